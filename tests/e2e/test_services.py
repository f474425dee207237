"""Every service from the first sentence to a real result in the exchange database,
by text over Rasa's REST channel, with the real exchange, action server and model."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_renew_id_card_with_correction_repeat_and_slow_down(chat, exchange_db):
    reply = chat.say("我的身份证过期了，想换个新的")
    assert "身份证" in reply
    reply = chat.verify("张桂芳")
    assert "到期" in reply  # the card status is read before anything is asked
    # "过期" in the first sentence already answered the reason.
    assert chat.slot("id_card_reason") == "expired"
    assert chat.slot("requested_slot") == "city"
    chat.say("成都")
    assert chat.slot("requested_slot") == "outlet_choice"
    # A correction in the middle of the form keeps the other answers.
    reply = chat.say("不对，是北京")
    assert "北京" in reply and chat.slot("city") == "北京市"
    assert chat.slot("id_card_reason") == "expired"
    assert len(chat.buttons()) <= 3
    before = [m.get("text") for m in chat.replies[-1]]
    chat.say("再说一遍")
    assert [m.get("text") for m in chat.replies[-1]] == before  # exactly the same
    reply = chat.say("说慢一点")
    assert "慢" in reply and chat.slot("speech_rate") == pytest.approx(0.8)
    assert chat.slot("requested_slot") == "outlet_choice"
    chat.say("一")
    assert chat.slot("requested_slot") == "appointment_date"
    reply = chat.say("一")
    assert "一一零一零五，一九四九零三一二，零零二一" in reply  # the one full read-back
    assert chat.slot("requested_slot") == "confirmation"
    reply = chat.say("对")
    assert "户口簿" in reply and "旧身份证" in reply
    (application,) = exchange_db.applications("张桂芳", "renew_id_card")
    assert application["reason"] == "expired"
    assert application["outlet_id"].startswith("BJ-")
    assert (
        application["date"] == chat.slot("appointment_date")
        or chat.slot("appointment_date") is None
    )
    assert application["application_no"][:2] in reply.replace(" ", "")


def test_transfer_social_insurance_prefilled_from_the_record(chat, exchange_db):
    chat.say("我想把社保转到北京去")
    reply = chat.verify("陈德明")
    assert "成都" in reply  # from the record, to be confirmed
    assert chat.slot("requested_slot") == "from_city"
    reply = chat.say("对")
    assert chat.slot("to_city") == "北京市"
    assert chat.slot("requested_slot") == "confirmation"
    assert "五一零一零七，一九四五零九一五，零零七八" in reply
    reply = chat.say("对的")
    assert "编号" in reply
    (application,) = exchange_db.applications("陈德明", "transfer_social_insurance")
    assert (application["from_province"], application["from_city"]) == ("四川省", "成都市")
    assert (application["to_province"], application["to_city"]) == ("北京市", "北京市")


def test_pension_certification_by_a_family_member(chat, exchange_db):
    chat.say("我帮我妈做养老金认证")
    reply = chat.verify("刘淑珍")
    assert "认证" in reply
    assert chat.slot("by_proxy") is True and chat.slot("proxy_relation") == "child"
    assert chat.slot("requested_slot") == "proxy_name"
    chat.say("我叫张小红")
    assert chat.slot("requested_slot") == "confirmation"
    reply = chat.say("对")
    assert "下次" in reply and "张小红" in reply
    (application,) = exchange_db.applications("刘淑珍", "pension_certification")
    assert application["proxy_name"] == "张小红"
    assert application["proxy_relation"] == "child"
    assert application["channel"] == "web"


def test_medical_insurance_filing(chat, exchange_db):
    chat.say("我要办异地就医备案")
    chat.verify("赵国强")
    assert chat.slot("requested_slot") == "destination_city"
    chat.say("海南海口")
    assert chat.slot("requested_slot") == "filing_reason"
    chat.say("三")
    reply = chat.say("对")
    assert "备案" in reply
    applications = [
        a
        for a in exchange_db.applications("赵国强", "medical_insurance_filing")
        if a["destination_city"] == "海口市"
    ]
    assert len(applications) == 1
    assert applications[0]["reason"] == "temporary"
    assert applications[0]["insured_province"] == "湖北省"


def test_lost_social_security_card_reported_first_then_replaced(chat, exchange_db):
    chat.say("我的社保卡丢了")
    chat.verify("李建国")
    assert chat.slot("card_request_type") == "report_loss"
    assert chat.slot("requested_slot") == "confirmation"
    reply = chat.say("对")
    assert "挂失" in reply and "补办" in reply
    (loss,) = exchange_db.applications("李建国", "social_security_card")
    assert loss["request_type"] == "report_loss"  # filed before anything else is asked
    chat.say("好的")
    assert chat.slot("card_request_type") == "replace"
    assert chat.slot("requested_slot") == "confirmation"
    chat.say("对")
    loss, replacement = exchange_db.applications("李建国", "social_security_card")
    assert replacement["request_type"] == "replace"


def test_pension_payments_read_clearly(chat):
    chat.say("查一下我的养老金发了多少")
    reply = chat.verify("王秀英")
    assert "元" in reply and "到账" in reply


def test_application_status_by_number_and_by_identity(new_chat):
    chat = new_chat()
    reply = chat.say("帮我查一下YL58203417办得怎么样了")
    if chat.slot("requested_slot") == "application_number":
        reply = chat.say("YL58203417")
    assert "YL 5820 3417" in reply and "养老金认证" in reply

    chat = new_chat()
    chat.say("我的申请办到哪一步了")
    assert chat.slot("requested_slot") == "application_number"
    chat.say("不记得了")
    reply = chat.verify("赵国强")
    assert "YB 7315 0286" in reply


def test_find_service_hall_needs_no_identity(chat):
    chat.say("成都的办事大厅在哪里")
    assert chat.slot("requested_slot") == "service"
    reply = chat.say("都可以")
    assert "地址" in reply and "时间" in reply
    assert chat.slot("person_ref") is None


def test_cancel_keeps_identity_for_the_next_service(chat, exchange_db):
    chat.say("我要做养老金认证")
    chat.verify("王秀英")
    reply = chat.say("算了，不办了")
    assert "不办了" in reply and chat.tracker()["active_loop"] in ({}, None, {"name": None})
    reply = chat.say("查一下养老金")
    assert "元" in reply  # no identity questions again
    assert chat.slot("identity_verified") is True
