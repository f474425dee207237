"""The senior card (老年人优待证) from the first sentence to the exchange database, by
text over Rasa's REST channel, with the real exchange, action server and model."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# Under 60 (data/demo/citizens.yml). Not in conftest.CITIZENS: the load test there
# asks every citizen for a pension, which he does not have yet.
YOUNGER = ("孙志强", "510104197508120031", "8007")


def test_senior_card_for_my_mother_mailed_home(chat, exchange_db):
    reply = chat.say("帮我妈办个老年证")
    assert "优待证" in reply and "老人的姓名" in reply  # the elder's identity, not the caller's
    reply = chat.verify("刘淑珍")
    assert chat.slot("requested_slot") == "card_delivery"
    assert "1. 到大厅领取" in reply and "2. 邮寄到家" in reply
    reply = chat.say("二")
    assert "青岛市市南区香港中路" in reply and "36号" not in reply  # the street only
    assert chat.slot("requested_slot") == "confirmation"
    assert "三七零二零二，一九五八一一二零，零零六六" in reply  # the one full read-back
    reply = chat.say("对")
    assert "编号" in reply and "10个工作日" in reply and "寄" in reply
    (application,) = exchange_db.applications("刘淑珍", "apply_senior_card")
    assert application["delivery"] == "mail"
    assert application["mail_to"] == "青岛市市南区香港中路****"
    assert application["status"] == "submitted"
    number = application["application_no"]
    assert f"{number[:2]} {number[2:6]} {number[6:]}" in reply
    assert chat.slot("card_delivery") is None and chat.slot("by_proxy") is None


def test_senior_card_under_60_is_told_kindly_and_nothing_is_filed(chat, exchange_db):
    name, number, last4 = YOUNGER
    chat.say("我想办个优待证")
    assert chat.slot("requested_slot") == "person_name"
    chat.say(f"我叫{name}")
    chat.say(number)
    reply = chat.say(last4)
    assert "60岁" in reply and "还办不了" in reply
    assert "1. 办身份证" in reply and "还有别的事" in reply
    assert chat.slot("service_gate") == "closed"
    assert chat.slot("requested_slot") is None
    assert exchange_db.applications(name, "apply_senior_card") == []
    chat.say("三")  # the offer of other help: find a service hall
    assert chat.slot("current_service") == "find_service_hall"
    assert chat.slot("requested_slot") == "city"
