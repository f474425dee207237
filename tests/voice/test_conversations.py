"""Conversation ids the gateway derives from channel, device and client sender (units).

The running gateway's use of them (a web client cannot reach a robot's
conversation, checked in Rasa's tracker) is in test_access.py and test_e2e_stack.py.
"""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from voice import conversations
from voice.conversations import SenderRefused
from voice.pipeline import Pipeline
from voice.settings import VoiceSettings

WIDGET_SENDER = "web-3f9c2a7e5b1d4c8f9a0b6e2d7c4f1a83"  # what web/js/store.js makes


def test_each_channel_has_its_own_namespace() -> None:
    assert conversations.web(WIDGET_SENDER) == f"web:{WIDGET_SENDER}"
    assert conversations.kiosk("robot-17", "visit-0042") == "kiosk:robot-17:visit-0042"
    call = uuid.UUID("0b4f6c1e-8d2a-4f3b-9c7e-5a1d2e3f4a5b")
    assert conversations.phone(call) == "phone:0b4f6c1e-8d2a-4f3b-9c7e-5a1d2e3f4a5b"
    assert conversations.phone(str(call).upper()) == conversations.phone(call)


def test_a_client_sender_never_leaves_its_namespace() -> None:
    robot = conversations.kiosk("robot-17", "visit-0042-aaaaaaaaaaaaaaaa")
    # A web client sending the robot's sender, or the robot's whole id, stays in web:.
    for sender in ("visit-0042-aaaaaaaaaaaaaaaa", "kiosk:robot-17:visit-0042-aaaa9c1", robot):
        if conversations.web_sender_problem(sender) is None:
            assert conversations.web(sender) != robot
            assert conversations.namespace(conversations.web(sender)) == "web"
    # One robot cannot name another's visitor: device ids have no ":".
    assert conversations.kiosk("robot-18", "robot-17:visit-0042") != conversations.kiosk(
        "robot-17", "visit-0042"
    )
    with pytest.raises(SenderRefused):
        conversations.kiosk("robot-18:x", "visit-0042")


@pytest.mark.parametrize(
    "sender",
    [
        "web-1",  # short
        "0123456789abcde",  # 15 characters
        "a" * 64,  # long, but one character
        "user-0000000000000001",
        "web-aaaaaaaabbbbbbbb",
        "has space in it 1234567",
        "",
        "x" * 65,
    ],
)
def test_guessable_or_malformed_web_senders_are_refused(sender: str) -> None:
    assert conversations.web_sender_problem(sender)
    with pytest.raises(SenderRefused):
        conversations.web(sender)


def test_random_ids_pass_every_time() -> None:
    for _ in range(2000):
        assert conversations.web_sender_problem("web-" + secrets.token_hex(16)) is None
        assert conversations.web_sender_problem(str(uuid.uuid4())) is None
    # The widget's earlier 96-bit ids would still pass, were any still stored.
    assert conversations.web_sender_problem("web-0123456789abcdef01234567") is None


def test_ids_fit_the_handover_queue() -> None:
    longest = conversations.kiosk("d" * 57, "s" * 64)
    assert len(longest) == conversations.MAX_CONVERSATION_ID_CHARS == 128
    with pytest.raises(SenderRefused, match="at most 63 characters with device"):
        conversations.kiosk("d" * 58, "s" * 64)
    assert len(conversations.web("w" * 32 + secrets.token_hex(16))) <= 128
    assert len(conversations.phone(uuid.uuid4())) == 42


def test_only_gateway_made_ids_have_a_namespace() -> None:
    assert conversations.namespace("web:abc") == "web"
    assert conversations.namespace("kiosk:robot-17:visit") == "kiosk"
    assert conversations.namespace("phone:0b4f6c1e-8d2a-4f3b-9c7e-5a1d2e3f4a5b") == "phone"
    for raw in ("robot-17:visit-0042", "web-123", "web:", "rest:x", ""):
        assert conversations.namespace(raw) is None


async def test_the_pipeline_refuses_a_client_sender_before_rasa_sees_it() -> None:
    pipeline = Pipeline(
        VoiceSettings(), asr=None, asr_error="none", tts=None, rasa=None, executor=None
    )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a gateway conversation id"):
        await pipeline.respond("robot-17:visit-0042", "你好")


async def test_rasa_reads_the_tracker_of_exactly_that_conversation() -> None:
    """Rasa's Sanic does not percent-decode path parameters: the id must arrive as it is.

    The route is declared as rasa/server.py declares it, on the Sanic Rasa ships with
    (tests/voice/tracker_echo.py, in its own process).
    """
    from tests.support.processes import PYTHON, Service, free_port
    from voice.rasa_client import RasaClient

    ids = [
        conversations.kiosk("robot-17", "visit-0042@hall.2"),
        conversations.web(WIDGET_SENDER),
        conversations.phone(uuid.uuid4()),
    ]
    port = free_port()
    echo = Service("tracker-echo", [PYTHON, "-m", "tests.voice.tracker_echo", str(port), ids[0]],
                   port, startup_timeout=60)  # fmt: skip
    with echo:
        client = RasaClient(echo.url)
        try:
            states = [await client.tracker(conversation_id) for conversation_id in ids]
        finally:
            await client.close()
        asked = httpx.get(f"{echo.url}/_asked", timeout=10).json()
    assert asked == ids
    assert [s.requested_slot for s in states] == ["id_number", None, None]
