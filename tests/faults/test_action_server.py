"""SIGKILL the action server in the middle of several conversations, then start it again.

While it is down every message gets a clear apology (rasa_addons/channels.py) and
changes nothing; after the restart each conversation goes on from where it was,
and every application is filed exactly once.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.e2e.conftest import CITIZENS, Chat
from tests.faults.conftest import FaultStack

pytestmark = pytest.mark.slow

SERVICE = "medical_insurance_filing"


def down_apology(reply: str) -> bool:
    return "对不起" in reply and "再说一遍" in reply and "12345" in reply


def state(chat: Chat) -> tuple[int, dict]:
    tracker = chat.tracker()
    return len(tracker["events"]), tracker["slots"]


def test_conversations_survive_a_killed_action_server(faults: FaultStack):
    people = ["张桂芳", "陈德明", "刘淑珍", "王秀英", "李建国"]
    before = {name: len(faults.applications.of(name, SERVICE)) for name in people}
    chats = {name: faults.chat() for name in people}
    for chat in chats.values():
        chat.say("我要办异地就医备案")

    # Five conversations, each stopped at a different step (the next answer in `pending`).
    zhang, chen, liu, wang, li = (chats[name] for name in people)
    zhang.say("我叫张桂芳")  # identity form: ID number next
    chen.verify("陈德明")  # service form: destination next
    liu.verify("刘淑珍")
    liu.say("杭州")  # reason next
    wang.verify("王秀英")
    wang.say("杭州")
    wang.say("一")  # read-back: confirmation next
    li.verify("李建国")
    li.say("杭州")
    li.say("一")
    assert "编号" in li.say("对")  # already filed before the crash
    pending = {"张桂芳": CITIZENS["张桂芳"][0], "陈德明": "杭州", "刘淑珍": "一", "王秀英": "对"}
    asked = {name: chats[name].slot("requested_slot") for name in pending}
    assert asked == {"张桂芳": "id_number", "陈德明": "destination_city",
                     "刘淑珍": "filing_reason", "王秀英": "confirmation"}  # fmt: skip
    saved = {name: state(chat) for name, chat in chats.items()}

    faults.kill_actions()
    for name, text in pending.items():
        reply = chats[name].say(text)  # Chat asserts HTTP 200
        assert down_apology(reply), (name, reply)
    assert down_apology(li.say("谢谢"))
    # Nothing was half-done: not one event was added to any conversation.
    assert {name: state(chat) for name, chat in chats.items()} == saved

    faults.actions.start()
    replies = {name: chats[name].say(text) for name, text in pending.items()}
    assert chats["张桂芳"].slot("requested_slot") == "phone_last4"
    assert "为什么去那里看病" in replies["陈德明"] or "原因" in replies["陈德明"], replies
    assert chats["陈德明"].slot("destination_city") == "杭州市"
    assert chats["刘淑珍"].slot("requested_slot") == "confirmation"
    assert "编号" in replies["王秀英"], replies["王秀英"]

    chats["张桂芳"].say(CITIZENS["张桂芳"][1])
    chats["张桂芳"].say("杭州")
    chats["张桂芳"].say("一")
    chats["陈德明"].say("一")
    for name in ("张桂芳", "陈德明", "刘淑珍"):
        assert chats[name].slot("requested_slot") == "confirmation", chats[name].replies[-1]
        assert "编号" in chats[name].say("对")
    after = {name: len(faults.applications.of(name, SERVICE)) for name in people}
    assert after == {name: count + 1 for name, count in before.items()}


def test_killed_while_submitting_the_application_is_neither_lost_nor_doubled(
    faults: FaultStack,
):
    """The crash comes while the action waits on the exchange, after the write was done.

    Rasa then keeps predicting actions that fail until its circuit breaker trips; the
    REST channel fails that turn instead of saving it (rasa_addons/channels.py).
    """
    chat = faults.chat()
    before = faults.applications.of("陈德明", SERVICE)
    chat.say("我要办异地就医备案")
    chat.verify("陈德明")
    chat.say("北京")
    chat.say("一")
    assert chat.slot("requested_slot") == "confirmation"

    faults.exchange_proxy.slow(2.0)  # the exchange files at once; its answer lingers
    replies: list[str] = []
    sending = threading.Thread(target=lambda: replies.append(chat.say("对")))
    sending.start()
    deadline = time.monotonic() + 20
    while len(faults.applications.of("陈德明", SERVICE)) == len(before):
        assert time.monotonic() < deadline, "the submission never reached the exchange"
        time.sleep(0.05)
    faults.kill_actions()
    sending.join(timeout=30)
    assert replies and down_apology(replies[0]), replies
    filed = faults.applications.of("陈德明", SERVICE)
    assert len(filed) == len(before) + 1

    # The turn was abandoned, not saved: the conversation is still at the read-back.
    assert chat.slot("requested_slot") == "confirmation"
    assert chat.slot("confirmation") is None

    faults.exchange_proxy.forward()
    faults.actions.start()
    reply = chat.say("对")  # said again: the same Idempotency-Key finds the filed one
    assert "编号" in reply, reply
    assert filed[-1]["application_no"] in reply.replace(" ", "")
    assert faults.applications.of("陈德明", SERVICE) == filed
    # And the conversation is alive, not stuck behind Rasa's circuit breaker.
    reply = chat.say("没有了")
    assert reply.strip() and "对不起" not in reply, reply
