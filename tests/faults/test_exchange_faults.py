"""The exchange goes away, loses a reply, or gets slow: the user hears why, nothing doubles.

The action server reaches the exchange through a TCP proxy (tests/support/tcp_proxy.py)
that refuses connections, resets them after the request went through, or holds
the replies back, on a private stack (conftest.py).
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import CITIZENS, Chat
from tests.faults.conftest import FaultStack

pytestmark = pytest.mark.slow

SERVICE = "medical_insurance_filing"


def to_confirmation(chat: Chat, name: str) -> None:
    chat.say("我要办异地就医备案")
    chat.verify(name)
    chat.say("上海")
    chat.say("一")
    assert chat.slot("requested_slot") == "confirmation", chat.replies[-1]


def apologised_with_retry(reply: str) -> bool:
    return "对不起" in reply and "12345" in reply and "再试" in reply


def filed_number(reply: str) -> str:
    """The application number read out ("YB 3918 2085" -> "YB39182085")."""
    match = re.search(r"编号是([A-Z0-9 ]+)", reply)
    assert match, reply
    return match.group(1).replace(" ", "")


def test_exchange_gone_mid_form_then_back_the_form_goes_on_and_files_once(faults: FaultStack):
    chat = faults.chat()
    before = faults.applications.of("刘淑珍", SERVICE)
    number, last4 = CITIZENS["刘淑珍"]
    chat.say("我要办异地就医备案")
    chat.say("我叫刘淑珍")
    chat.say(number)
    faults.exchange_proxy.refuse()  # the exchange is gone when the identity is checked
    reply = chat.say(last4)
    assert apologised_with_retry(reply), reply
    assert chat.slot("pending_offer") == "retry_verify"

    faults.exchange_proxy.restore()
    reply = chat.say("好")
    assert "身份核对好了" in reply and "青岛" in reply, reply
    assert chat.slot("requested_slot") == "destination_city"
    chat.say("上海")
    chat.say("一")
    reply = chat.say("对")
    after = faults.applications.of("刘淑珍", SERVICE)
    assert len(after) == len(before) + 1
    assert filed_number(reply) == after[-1]["application_no"]


def test_reply_lost_at_submission_the_retry_files_once(faults: FaultStack):
    """The exchange filed the application, then the connection broke before the answer."""
    chat = faults.chat()
    before = faults.applications.of("王秀英", SERVICE)
    to_confirmation(chat, "王秀英")
    faults.exchange_proxy.lose_replies()
    reply = chat.say("对")
    assert apologised_with_retry(reply), reply
    assert faults.exchange_proxy.replies_lost >= 1
    assert chat.slot("pending_offer") == "retry_submit"
    filed = faults.applications.of("王秀英", SERVICE)
    assert len(filed) == len(before) + 1  # it did reach the exchange

    faults.exchange_proxy.forward()
    reply = chat.say("好")
    # Same Idempotency-Key: the exchange answers with the stored application.
    assert faults.applications.of("王秀英", SERVICE) == filed
    assert filed_number(reply) == filed[-1]["application_no"]


def test_slow_exchange_gets_an_apology_in_bounded_time_then_one_filing(faults: FaultStack):
    chat = faults.chat()
    before = faults.applications.of("李建国", SERVICE)
    to_confirmation(chat, "李建国")
    faults.exchange_proxy.slow(3.5)  # longer than EXCHANGE_TIMEOUT (3 s)
    started = time.monotonic()
    reply = chat.say("对")
    elapsed = time.monotonic() - started
    # The action gives up after its own 3 s: no waiting for Rasa's 5-minute action timeout.
    assert elapsed < 10, f"the reply took {elapsed:.1f} s"
    assert apologised_with_retry(reply), reply
    assert chat.slot("pending_offer") == "retry_submit"

    faults.exchange_proxy.forward()
    reply = chat.say("好")
    assert "编号" in reply, reply
    after = faults.applications.of("李建国", SERVICE)
    assert len(after) == len(before) + 1
    assert filed_number(reply) == after[-1]["application_no"]
    reply = chat.say("没有了")
    assert faults.applications.of("李建国", SERVICE) == after
