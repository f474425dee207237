"""The widget when the gateway says "too many messages" (429, or ``rate_limited``).

Real gateways with tiny allowances (VOICE_RATE_LIMIT_*), replies from the
scripted Rasa of tests/voice (no trained model needed), Debian's Chromium. A
refused question is not a failed one: the widget says «您说得太快了，请稍等一下再说。»,
waits as long as Retry-After says (at most 10 s) and sends it once more; the
microphone shows only the gateway's polite message, never "没听清".
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, WebSocket, expect

from tests.support.processes import PYTHON, Service, free_port
from tests.web.conftest import _gateway, static_gateway_env
from tests.web.widget import REPLY_TIMEOUT_MS, bot_messages, open_widget, send_text, sender

SCRIPTED_TOKEN = "scripted-token"  # what tests/voice/scripted_rasa.py accepts
TOO_FAST = "您说得太快了，请稍等一下再说。"
NOT_SENT = "您说得太快了，这句话没有发出去。请稍等一下再说。"
NOT_HEARD = "没有听清楚"
SCRIPTED_GREETING = "您好！请问您要办什么事？"
SCRIPTED_FALLBACK = "没听清，请您再说一遍？"


@pytest.fixture(scope="module")
def scripted_rasa() -> Iterator[Service]:
    port = free_port()
    service = Service(
        "scripted-rasa-web", [PYTHON, "-m", "tests.voice.scripted_rasa", str(port)], port,
        health_path="/", startup_timeout=30,
    )  # fmt: skip
    with service:
        yield service


def limited_gateway(name: str, rasa: Service, per_minute: int) -> Service:
    """Two messages per sender at once, then ``per_minute``; the address is not the limit."""
    port = free_port()
    env = {
        **static_gateway_env(port),
        "RASA_URL": rasa.url,
        "RASA_TOKEN": SCRIPTED_TOKEN,
        "VOICE_RATE_LIMIT_PER_MINUTE": str(per_minute),
        "VOICE_RATE_LIMIT_BURST": "2",
    }
    return _gateway(name, port, env)


@pytest.fixture(scope="module")
def refilling_gateway(scripted_rasa: Service) -> Iterator[Service]:
    # A message every 5 s: the widget's one resend after Retry-After gets through.
    with limited_gateway("gateway-limit-5s", scripted_rasa, 12) as service:
        yield service


@pytest.fixture(scope="module")
def stingy_gateway(scripted_rasa: Service) -> Iterator[Service]:
    # A message every 30 s: Retry-After is longer than the widget waits (10 s).
    with limited_gateway("gateway-limit-30s", scripted_rasa, 2) as service:
        yield service


def chat_posts(page: Page) -> list[dict]:
    """Every /v1/chat request the page makes: its text, status and Retry-After, and when."""
    posts: list[dict] = []

    def on_response(response) -> None:
        if response.url.endswith("/v1/chat") and response.request.method == "POST":
            posts.append(
                {
                    "text": json.loads(response.request.post_data)["text"],
                    "status": response.status,
                    "retry_after": response.headers.get("retry-after"),
                    "at": time.monotonic(),
                }
            )

    page.on("response", on_response)
    return posts


def greeted(page: Page, gateway: Service) -> Page:
    open_widget(page, gateway.url)
    expect(bot_messages(page).first).to_have_text(SCRIPTED_GREETING, timeout=REPLY_TIMEOUT_MS)
    return page


def note_of_last_question(page: Page):
    return page.locator("#log li.from-user .message-note").last


def test_a_question_sent_too_fast_waits_politely_and_is_sent_again(
    page: Page, refilling_gateway: Service, scripted_rasa: Service
):
    posts = chat_posts(page)
    greeted(page, refilling_gateway)  # the greeting is the first of the two
    send_text(page, "你好")
    send_text(page, "第二句")  # sent as soon as 你好 is answered: one too many

    note = note_of_last_question(page)
    expect(note).to_have_text(TOO_FAST)
    expect(page.locator("#typing")).to_be_hidden()
    expect(page.locator("#status")).to_be_hidden()  # not an error
    refused = [p for p in posts if p["text"] == "第二句"]
    assert [p["status"] for p in refused] == [429]
    retry_after = int(refused[0]["retry_after"])
    assert 1 <= retry_after <= 5

    # Sent again by itself once the wait is over, and answered.
    expect(bot_messages(page)).to_have_count(3, timeout=20_000)
    expect(bot_messages(page).last).to_have_text(SCRIPTED_FALLBACK)
    expect(note).to_be_hidden()
    again = [p for p in posts if p["text"] == "第二句"]
    assert [p["status"] for p in again] == [429, 200]
    assert again[1]["at"] - again[0]["at"] >= retry_after - 0.5  # it did wait as asked
    conversation_id = f"web:{sender(page)}"
    received = httpx.get(f"{scripted_rasa.url}/_received/{conversation_id}", timeout=5).json()
    assert received == ["/greet", "你好", "第二句"]  # once each: the 429 cost nothing
    assert page.js_errors == []


def test_refused_twice_the_question_is_left_for_the_user(
    page: Page, stingy_gateway: Service, scripted_rasa: Service
):
    posts = chat_posts(page)
    greeted(page, stingy_gateway)
    send_text(page, "你好")
    expect(bot_messages(page)).to_have_count(2, timeout=REPLY_TIMEOUT_MS)
    send_text(page, "第二句")
    note = note_of_last_question(page)
    expect(note).to_have_text(TOO_FAST)
    first = next(p for p in posts if p["text"] == "第二句")
    assert int(first["retry_after"]) > 10  # longer than the widget waits

    # One more try after 10 s, refused again: the note says it was not sent.
    expect(note).to_have_text(NOT_SENT, timeout=20_000)
    refused = [p for p in posts if p["text"] == "第二句"]
    assert [p["status"] for p in refused] == [429, 429]
    assert 9.5 <= refused[1]["at"] - refused[0]["at"] <= 15
    page.wait_for_timeout(3000)
    assert len([p for p in posts if p["text"] == "第二句"]) == 2  # and no more tries
    assert bot_messages(page).count() == 2
    expect(page.locator("#status")).to_be_hidden()
    assert page.locator("#log").inner_text().count("这句话没有发出去，请换个说法再试") == 0
    received = httpx.get(f"{scripted_rasa.url}/_received/web:{sender(page)}", timeout=5).json()
    assert received == ["/greet", "你好"]
    assert page.js_errors == []


def test_the_microphone_past_the_allowance_shows_only_the_polite_message(
    page: Page, stingy_gateway: Service
):
    frames: list[dict] = []

    def on_frame(payload: str | bytes) -> None:
        if isinstance(payload, str):
            frames.append(json.loads(payload))

    def on_socket(socket: WebSocket) -> None:
        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    greeted(page, stingy_gateway)
    send_text(page, "你好")
    expect(bot_messages(page)).to_have_count(2, timeout=REPLY_TIMEOUT_MS)
    page.evaluate("""() => {
        window.liveTexts = [];
        const line = document.getElementById("live-transcript");
        new MutationObserver(() => window.liveTexts.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true});
    }""")

    mic = page.locator("#mic")
    box = mic.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    # The gateway refuses the start: its polite message is the answer, and the
    # widget stops listening by itself.
    expect(bot_messages(page)).to_have_count(3, timeout=REPLY_TIMEOUT_MS)
    expect(bot_messages(page).last).to_have_text(TOO_FAST)
    expect(mic).to_have_attribute("data-state", "idle")
    page.mouse.up()
    page.wait_for_timeout(1500)  # anything that would come late

    assert [f["code"] for f in frames if f["type"] == "error"] == ["rate_limited"]
    assert not [f for f in frames if f["type"] == "ready"]
    live = page.evaluate("window.liveTexts")
    assert not [t for t in live if NOT_HEARD in t], live
    expect(page.locator("#live-transcript")).to_be_hidden()
    expect(page.locator("#typing")).to_be_hidden()
    expect(mic).to_have_attribute("data-state", "idle")
    expect(page.locator("#mic-label")).to_have_text("按住说话")
    assert page.js_errors == []
