"""Senior card (老年人优待证): the age check after identity, how to get the card, the
read-back and the application, in rasa-sdk's style (Tracker inline, CollectingDispatcher,
the real exchange client on httpx.MockTransport)."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.flows import ActionStartService, ActionSubmit
from actions.identity import ActionVerifyIdentity
from actions.questions import ActionAskConfirmation
from actions.senior_card import ValidateSeniorCardForm, delivery_in, for_an_elder
from tests.actions.conftest import DOMAIN, in_form, make_tracker, said

FORM = "senior_card_form"
REF = "ref-liu-0003"
ELIGIBILITY = f"/v1/persons/{REF}/senior-card"
APPLICATIONS = "/v1/senior-cards/applications"
STREET = "青岛市市南区香港中路"
RECORD = {
    "person_ref": REF, "age": 66, "min_age": 60, "eligible": True, "address_on_record": True,
    "address_masked": STREET + "****", "pending_application_no": None,
    "pending_status_text": None,
}  # fmt: skip
VERIFIED = {"current_service": "apply_senior_card", "person_ref": REF, "identity_verified": True}
FILLED = {
    **VERIFIED,
    "person_name": "刘淑珍",
    "id_number": "370202195811200066",
    "mail_address": STREET,
}


async def verify(fake_exchange, record: dict, **slots):
    fake_exchange.on("GET", ELIGIBILITY, 200, record)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**VERIFIED, **slots}, text="8003")
    events = await ActionVerifyIdentity().run(dispatcher, tracker, DOMAIN)
    return events, dispatcher


async def run_form(**kwargs):
    dispatcher = CollectingDispatcher()
    events = await ValidateSeniorCardForm().run(dispatcher, in_form(FORM, kwargs), DOMAIN)
    return events, dispatcher


# Starting: kinship framing makes the identity questions ask for the elder


async def test_for_my_mother_asks_the_elders_identity():
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="帮我妈办个老年证", intent="apply_senior_card")
    events = await ActionStartService().run(dispatcher, tracker, DOMAIN)
    assert events == [
        SlotSet("current_service", "apply_senior_card"),
        SlotSet("service_gate", None),
        SlotSet("pending_offer", None),
        SlotSet("confirmation", None),
        SlotSet("card_delivery", None),
        SlotSet("mail_address", None),
        SlotSet("by_proxy", None),
        SlotSet("by_proxy", True),
    ]
    assert said(dispatcher) == ["utter_start_apply_senior_card"]


async def test_mail_said_first_is_kept_and_checked_after_identity(fake_exchange):
    tracker = make_tracker(text="我想办优待证，办好了寄到家里", intent="apply_senior_card")
    events = await ActionStartService().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events[-1] == SlotSet("card_delivery", "mail")
    assert SlotSet("by_proxy", True) not in events
    # No address on record: the hall it is, and the person is told why.
    record = {**RECORD, "address_on_record": False, "address_masked": None}
    events, dispatcher = await verify(fake_exchange, record, card_delivery="mail")
    assert events == [
        SlotSet("mail_address", ""),
        SlotSet("card_delivery", "hall"),
        SlotSet("service_gate", "open"),
        SlotSet("pending_offer", None),
    ]
    assert said(dispatcher) == ["utter_senior_card_no_address"]


# After identity: the age check


async def test_sixty_or_over_goes_on_with_the_street_of_the_address(fake_exchange):
    events, dispatcher = await verify(fake_exchange, RECORD)
    assert events == [
        SlotSet("mail_address", STREET),
        SlotSet("service_gate", "open"),
        SlotSet("pending_offer", None),
    ]
    assert said(dispatcher) == []
    assert fake_exchange.requests[-1].headers["X-Purpose"] == "senior_card"


async def test_under_sixty_hears_why_and_what_else_we_can_do(fake_exchange):
    record = {**RECORD, "age": 49, "eligible": False}
    events, dispatcher = await verify(fake_exchange, record, by_proxy=True)
    assert events == [
        SlotSet("card_delivery", None),
        SlotSet("by_proxy", None),
        SlotSet("service_gate", "closed"),
        SlotSet("pending_offer", None),
    ]
    assert said(dispatcher) == [
        "utter_senior_card_too_young",
        "utter_senior_card_other_help",
        "utter_anything_else",
    ]
    assert dispatcher.messages[0]["min_age"] == 60


async def test_an_open_application_is_not_filed_again(fake_exchange):
    record = {**RECORD, "pending_application_no": "YD48310275", "pending_status_text": "办理中"}
    events, dispatcher = await verify(fake_exchange, record)
    assert SlotSet("service_gate", "closed") in events
    assert said(dispatcher) == ["utter_senior_card_pending", "utter_anything_else"]
    assert dispatcher.messages[0]["application_number"] == "YD 4831 0275"
    assert dispatcher.messages[0]["status"] == "办理中"


async def test_exchange_down_after_identity_offers_a_retry(fake_exchange):
    fake_exchange.down = True
    events, dispatcher = await verify(fake_exchange, RECORD)
    assert events[-2:] == [
        SlotSet("service_gate", "unavailable"),
        SlotSet("pending_offer", "retry_verify"),
    ]
    assert said(dispatcher) == ["utter_exchange_down"]


# The question: 1 hall, 2 mail


async def test_two_is_mail_and_the_masked_address_is_read():
    slots = {**FILLED, "requested_slot": "card_delivery"}
    events, dispatcher = await run_form(text="二", slots=slots)
    assert events == [
        SlotSet("card_delivery", "mail"),
        SlotSet("requested_slot", "confirmation"),
    ]
    assert said(dispatcher) == ["utter_senior_card_mail_to"]
    assert dispatcher.messages[0]["address"] == STREET


async def test_mail_without_an_address_becomes_the_hall():
    slots = {**FILLED, "mail_address": "", "requested_slot": "card_delivery"}
    events, dispatcher = await run_form(text="邮寄到家", slots=slots)
    assert events == [
        SlotSet("card_delivery", "hall"),
        SlotSet("requested_slot", "confirmation"),
    ]
    assert said(dispatcher) == ["utter_senior_card_no_address"]


async def test_one_is_the_hall_even_if_taken_for_another_intent():
    slots = {**FILLED, "requested_slot": "card_delivery"}
    events, dispatcher = await run_form(text="第一个", intent="repeat", slots=slots)
    assert events[0] == SlotSet("card_delivery", "hall")
    assert said(dispatcher) == []


async def test_not_an_answer_lets_the_rules_take_over():
    slots = {**FILLED, "requested_slot": "card_delivery"}
    events, _ = await run_form(text="算了不办了", intent="cancel", slots=slots)
    assert events == []


@pytest.mark.parametrize(
    ("text", "delivery"),
    [
        ("到大厅领取", "hall"),
        ("我自己去拿", "hall"),
        ("不用寄 我自己去拿", "hall"),
        ("给我寄过来", "mail"),
        ("我腿脚不好 走不动", "mail"),
        ("我去不了大厅 给我寄过来吧", "mail"),
        ("别寄了 去窗口领", "hall"),
        ("都行", None),
        ("大厅也行 寄也行", None),
    ],
)
def test_how_to_get_the_card_in_plain_words(text, delivery):
    assert delivery_in(text) == delivery


@pytest.mark.parametrize(
    ("text", "elder"),
    [
        ("帮我妈办个老年证", True),
        ("给俺爹办个老人卡", True),
        ("我老伴想办优待证", True),
        ("替我家老人申请优待证", True),
        ("我想办老年证", False),
        ("帮我办个老年证", False),
        ("我儿子让我来办老年证", False),
    ],
)
def test_asking_for_an_elder(text, elder):
    assert for_an_elder(text) is elder


# The read-back and corrections


async def test_read_back_says_who_and_where_it_goes():
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**FILLED, "card_delivery": "mail"}, active_loop=FORM)
    await ActionAskConfirmation().run(dispatcher, tracker, DOMAIN)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_ask_confirm_senior_card_form"
    assert message["name"] == "刘淑珍"
    assert message["id_read"] == "三七零二零二，一九五八一一二零，零零六六"
    assert message["delivery"] == f"办好后寄到{STREET}"


async def test_no_then_mail_at_the_read_back_changes_it_and_reads_back_again():
    slots = {**FILLED, "card_delivery": "hall", "requested_slot": "confirmation"}
    events, dispatcher = await run_form(text="不对，寄到家里", intent="deny", slots=slots)
    assert events == [
        SlotSet("card_delivery", "mail"),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "confirmation"),
    ]
    assert said(dispatcher) == ["utter_senior_card_mail_to", "utter_corrected"]
    assert dispatcher.messages[1]["value"] == "邮寄到家"


async def test_yes_at_the_read_back_confirms():
    slots = {**FILLED, "card_delivery": "hall", "requested_slot": "confirmation"}
    events, _ = await run_form(text="对", intent="affirm", slots=slots)
    assert events == [
        SlotSet("confirmation", True),
        SlotSet("correcting", None),
        SlotSet("requested_slot", None),
    ]


# The application


async def test_submit_files_what_was_confirmed_and_reads_the_number(fake_exchange):
    application = {
        "application_no": "YD48310275",
        "service": "apply_senior_card",
        "next_step": "一般10个工作日内办好。办好后寄到您登记的地址，寄出时会发短信告诉您。",
    }
    fake_exchange.on("POST", APPLICATIONS, 201, application)
    slots = {**FILLED, "card_delivery": "mail", "by_proxy": True, "confirmation": True}
    dispatcher = CollectingDispatcher()
    events = await ActionSubmit().run(dispatcher, make_tracker(slots=slots), DOMAIN)
    assert events == [
        SlotSet("write_counts", {"apply_senior_card": 1}),
        SlotSet("application_number", "YD48310275"),
        SlotSet("confirmation", None),
        SlotSet("card_delivery", None),
        SlotSet("by_proxy", None),
        SlotSet("service_gate", None),
        SlotSet("pending_offer", None),
    ]
    assert said(dispatcher) == ["utter_senior_card_applied", "utter_anything_else"]
    assert dispatcher.messages[0]["application_number"] == "YD 4831 0275"
    assert "10个工作日" in dispatcher.messages[0]["next_step"]
    assert fake_exchange.bodies(APPLICATIONS) == [{"person_ref": REF, "delivery": "mail"}]
    assert fake_exchange.keys(APPLICATIONS)[0]


async def test_refused_application_is_said_plainly(fake_exchange):
    fake_exchange.on("POST", APPLICATIONS, 409, {"title": "Not eligible"})
    slots = {**FILLED, "card_delivery": "hall", "confirmation": True}
    dispatcher = CollectingDispatcher()
    events = await ActionSubmit().run(dispatcher, make_tracker(slots=slots), DOMAIN)
    assert events == [SlotSet("service_gate", None), SlotSet("pending_offer", "handover")]
    assert said(dispatcher) == ["utter_exchange_refused"]
