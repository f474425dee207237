"""Repeat, slow down, cancel, not understood, yes/no after an offer."""

from __future__ import annotations

from rasa_sdk.events import ActionExecuted, ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import (
    ActionAnswerOffer,
    ActionCancel,
    ActionFallback,
    ActionRepeat,
    ActionSlowDown,
)
from tests.actions.conftest import DOMAIN, action, bot, make_tracker, said, user

BUTTONS = [
    {"title": "1 转人工", "payload": "/request_human"},
    {"title": "2 找办事大厅", "payload": "/find_service_hall"},
]


async def test_repeat_sends_the_last_bot_turn_exactly():
    events = [
        user("你能办啥", "ask_capabilities"),
        action("utter_capabilities"),
        bot("我能帮您办这些事。", "utter_capabilities", BUTTONS),
        action("action_listen"),
    ]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="再说一遍", intent="repeat", events=events)
    assert await ActionRepeat().run(dispatcher, tracker, DOMAIN) == []
    assert [(m["text"], m["buttons"]) for m in dispatcher.messages] == [
        ("我能帮您办这些事。", BUTTONS)
    ]


async def test_repeat_in_a_form_leaves_the_question_to_the_form():
    events = [
        user("我叫张桂芳"),
        bot("好的，改成张桂芳。", "utter_corrected"),
        bot("请说身份证号码，一共18位。", "utter_ask_id_number"),
    ]
    tracker = make_tracker(
        text="啥",
        intent="repeat",
        events=events,
        active_loop="identity_form",
        slots={"requested_slot": "id_number"},
    )
    dispatcher = CollectingDispatcher()
    await ActionRepeat().run(dispatcher, tracker, DOMAIN)
    assert [m["text"] for m in dispatcher.messages] == ["好的，改成张桂芳。"]


async def test_slow_down_steps_to_the_slowest_and_stays():
    for current, expected, response in [
        (None, 0.8, "utter_slow_down"),
        (0.8, 0.65, "utter_slow_down"),
        (0.65, 0.65, "utter_already_slowest"),
    ]:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(text="说慢点", intent="slow_down", slots={"speech_rate": current})
        assert await ActionSlowDown().run(dispatcher, tracker, DOMAIN) == [
            SlotSet("speech_rate", expected)
        ]
        assert said(dispatcher)[0] == response


async def test_cancel_in_a_form_keeps_the_answers():
    tracker = make_tracker(
        text="算了",
        intent="cancel",
        active_loop="transfer_form",
        slots={"to_city": "成都市", "requested_slot": "confirmation"},
    )
    dispatcher = CollectingDispatcher()
    events = await ActionCancel().run(dispatcher, tracker, DOMAIN)
    assert ActiveLoop(None) in events
    assert not any(e.get("name") == "to_city" for e in events)
    assert said(dispatcher) == ["utter_cancelled_kept", "utter_anything_else"]


async def test_two_fallbacks_in_a_row_offer_a_person():
    first = make_tracker(text="？？？", intent="nlu_fallback")
    dispatcher = CollectingDispatcher()
    assert await ActionFallback().run(dispatcher, first, DOMAIN) == []
    assert said(dispatcher) == ["utter_not_understood"]
    events = [
        user("？？？", "nlu_fallback"),
        action("action_fallback"),
        bot("没听清", "utter_not_understood"),
        action("action_listen"),
    ]
    dispatcher = CollectingDispatcher()
    second = make_tracker(text="🙂🙂🙂", intent="nlu_fallback", events=events)
    assert await ActionFallback().run(dispatcher, second, DOMAIN) == [
        SlotSet("pending_offer", "handover")
    ]
    assert said(dispatcher) == ["utter_not_understood_offer_human"]


async def test_a_number_outside_a_form_presses_that_button():
    events = [
        user("x"),
        bot("三次都没有对上。", "utter_identity_blocked", BUTTONS),
        action("action_listen"),
    ]
    tracker = make_tracker(text="二", intent="nlu_fallback", events=events)
    result = await ActionFallback().run(CollectingDispatcher(), tracker, DOMAIN)
    assert result[0] == ActionExecuted("action_listen")
    assert result[1]["event"] == "user"
    assert result[1]["parse_data"]["intent"]["name"] == "find_service_hall"


async def test_no_after_anything_else_says_goodbye():
    events = [bot("还有别的事要办吗？", "utter_anything_else")]
    dispatcher = CollectingDispatcher()
    await ActionAnswerOffer().run(
        dispatcher, make_tracker(text="没有了", intent="deny", events=events), DOMAIN
    )
    assert said(dispatcher) == ["utter_goodbye"]


async def test_no_to_a_retry_points_to_the_hotline():
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="不用了", intent="deny", slots={"pending_offer": "retry_submit"})
    assert await ActionAnswerOffer().run(dispatcher, tracker, DOMAIN) == [
        SlotSet("pending_offer", None)
    ]
    assert said(dispatcher) == ["utter_retry_declined", "utter_anything_else"]
