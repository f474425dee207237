"""The widget's pages, served by the real gateway with no assistant behind it.

These need no trained model: accessibility (axe-core, contrast, sizes), layout
on a phone and at 200% zoom, keyboard use, escaping, the error state, the
embed tag and the agent view's password.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.processes import Service, free_port
from tests.web.conftest import AGENT_PASSWORD, AGENT_USER, _gateway, static_gateway_env
from tests.web.widget import (
    axe_problems,
    bot_messages,
    choices,
    measure,
    open_widget,
    send_text,
    sender,
    user_messages,
)

LATIN = re.compile(r"[A-Za-z]")

# A saved conversation as the widget keeps it in local storage: a reload shows
# it again (the real restore path), with the last answer's numbered choices.
SAVED = {
    "sender": "web-0123456789abcdef0123456789abcdef",
    "messages": [
        {
            "id": 1,
            "role": "bot",
            "text": "您好，我是政务服务小助手。请问您要办什么事？",
            "buttons": [],
        },
        {"id": 2, "role": "user", "text": "找办事大厅", "state": "sent"},
        {
            "id": 3,
            "role": "bot",
            "text": "请问您在哪个城市？\n1. 北京市\n2. 成都市\n3. 上海市\n请说前面的数字。",
            "buttons": [
                {"title": "北京市", "payload": '/inform{"city": "北京市"}'},
                {"title": "2 成都市", "payload": '/inform{"city": "成都市"}'},
                {"title": "3. 上海市", "payload": '/inform{"city": "上海市"}'},
            ],
        },
    ],
    "greeted": True,
}


def restore(page: Page, base_url: str, saved: dict = SAVED) -> Page:
    return open_widget(page, base_url, saved={**saved, "updatedAt": int(time.time() * 1000)})


def test_welcome_is_chinese_labelled_and_passes_axe(
    page: Page, static_gateway: Service, screenshots
):
    open_widget(page, static_gateway.url)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.title() == "政务服务助手"
    visible = page.locator("body").inner_text()
    assert not LATIN.search(visible), f"English on the page: {LATIN.findall(visible)[:10]}"
    for name in ("发送", "按住说话", "再说一遍", "转人工", "标准", "大字"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    expect(page.get_by_label("打字提问：")).to_be_visible()
    assert axe_problems(page) == []
    page.screenshot(path=screenshots / "01-welcome.png")
    assert page.js_errors == []


@pytest.mark.parametrize("size", ["standard", "large"])
def test_axe_contrast_and_sizes_of_a_conversation(page: Page, static_gateway: Service, size: str):
    restore(page, static_gateway.url)
    if size == "large":
        page.get_by_role("button", name="大字").click()
    expect(choices(page)).to_have_count(3)
    assert axe_problems(page) == []

    found = measure(page)
    minimum_font = 24 if size == "standard" else 30
    small = [t for t in found["texts"] if t["fontSize"] < minimum_font - 0.01]
    assert small == [], f"text below {minimum_font}px: {small}"
    low = [t for t in found["texts"] if t["contrast"] < 7]
    assert low == [], f"text contrast below 7:1: {low}"
    tiny = [c for c in found["controls"] if c["width"] < 60 or c["height"] < 60]
    assert tiny == [], f"controls smaller than 60x60px: {tiny}"


def test_choices_are_numbered_in_one_column_on_a_phone(
    browser, static_gateway: Service, screenshots
):
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    try:
        page = context.new_page()
        restore(page, static_gateway.url)
        # Numbered once: a title that already has its number keeps it; the
        # message does not list the choices a second time above the buttons.
        expect(choices(page)).to_have_text(["1. 北京市", "2. 成都市", "3. 上海市"])
        expect(bot_messages(page).last).to_have_text("请问您在哪个城市？\n请说前面的数字。")
        boxes = [choices(page).nth(i).bounding_box() for i in range(3)]
        assert len({round(b["x"]) for b in boxes}) == 1, "choices are not in one column"
        assert all(b["width"] >= 300 for b in boxes)
        found = measure(page)
        assert found["scrollWidth"] <= found["clientWidth"], "horizontal scrolling on a phone"
        assert axe_problems(page) == []
        page.screenshot(path=screenshots / "06-phone.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("size", ["standard", "large"])
def test_200_percent_zoom_needs_no_horizontal_scrolling(browser, static_gateway: Service, size):
    # 200% browser zoom in a 1280x900 window lays the page out in 640x450 CSS pixels.
    context = browser.new_context(
        viewport={"width": 640, "height": 450}, device_scale_factor=2, locale="zh-CN"
    )
    try:
        page = context.new_page()
        restore(page, static_gateway.url)
        if size == "large":
            page.get_by_role("button", name="大字").click()
        found = measure(page)
        assert found["scrollWidth"] <= found["clientWidth"]
        # Every control can still be reached and seen whole.
        for control in found["controls"]:
            assert control["width"] <= 640, control
        page.get_by_role("button", name="转人工").scroll_into_view_if_needed()
        expect(page.get_by_role("button", name="转人工")).to_be_in_viewport()
    finally:
        context.close()


def test_the_sender_id_is_unguessable_and_kept_across_reloads(page: Page, static_gateway: Service):
    """The sender id is the only key to a web conversation: 128 random bits, kept for a reload."""
    open_widget(page, static_gateway.url)
    first = sender(page)
    assert re.fullmatch(r"web-[0-9a-f]{32}", first), first
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert sender(page) == first
    open_widget(page, static_gateway.url)  # a new visitor (storage cleared)
    assert sender(page) != first and re.fullmatch(r"web-[0-9a-f]{32}", sender(page))
    # An id of the earlier, shorter kind is not resumed: a new conversation starts.
    old = "web-0123456789abcdef01234567"
    restore(page, static_gateway.url, {**SAVED, "sender": old})
    assert sender(page) != old and re.fullmatch(r"web-[0-9a-f]{32}", sender(page))
    expect(user_messages(page)).to_have_count(0)
    # The gateway itself refuses ids like the old test ones (too short to be secret).
    weak = httpx.post(static_gateway.url + "/v1/chat", json={"sender": "web-1", "text": "你好"})
    assert weak.status_code == 422
    assert weak.headers["content-type"] == "application/problem+json"


def test_size_switch_is_remembered(page: Page, static_gateway: Service, screenshots):
    open_widget(page, static_gateway.url)
    large = page.get_by_role("button", name="大字")
    large.click()
    expect(large).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="标准")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "30px"
    page.reload()
    expect(page.get_by_role("button", name="大字")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "30px"
    page.screenshot(path=screenshots / "07-large-text.png")
    page.get_by_role("button", name="标准").click()
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "24px"


def test_keyboard_only(page: Page, static_gateway: Service):
    restore(page, static_gateway.url)
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0, "the skip link shows when focused"
    page.keyboard.press("Enter")
    expect(page.locator("#message-input")).to_be_focused()

    # Walk the whole page with Tab: every control is reached, in reading order,
    # and each shows a clear focus ring.
    reached = []
    page.locator(".skip-link").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => {
            const el = document.activeElement;
            if (el === document.body) return {name: 'body'};
            const s = getComputedStyle(el);
            return {name: (el.getAttribute('aria-label') || el.textContent || el.id).trim(),
                    outline: parseFloat(s.outlineWidth), style: s.outlineStyle};
        }""")
        if info["name"] == "body" or (reached and info["name"] == reached[0]):
            break
        assert info["outline"] >= 3 and info["style"] != "none", info
        reached.append(info["name"])
    for name in (
        "标准",
        "大字",
        "朗读",
        "1. 北京市",
        "2. 成都市",
        "发送",
        "按住说话",
        "再说一遍",
        "转人工",
    ):
        assert any(name in r for r in reached), (name, reached)

    # Choose a numbered answer with the keyboard.
    choices(page).first.focus()
    page.keyboard.press("Enter")
    expect(user_messages(page).last).to_have_text("北京市")
    # Typing the number of a choice picks it too.
    restore(page, static_gateway.url)
    page.locator("#message-input").focus()
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    expect(user_messages(page).last).to_have_text("成都市")

    # Hold-to-talk with the Space key: this gateway has no speech model, so the
    # widget says so in words and stays usable.
    page.locator("#mic").focus()
    page.keyboard.down("Space")
    page.wait_for_timeout(600)
    page.keyboard.up("Space")
    expect(page.locator("#live-transcript")).to_have_text("语音暂时用不了，请打字提问。")
    expect(page.locator("#mic")).to_have_attribute("data-state", "idle")


def test_read_a_reply_aloud_and_stop_it(page: Page, static_gateway: Service):
    """The speaker button plays the gateway's real TTS (espeak-ng) with Web Audio."""
    restore(page, static_gateway.url)
    item = page.locator("#log li.from-bot").last
    speaker = item.locator(".button-speak")
    with page.expect_response("**/v1/tts") as spoken:
        speaker.click()
    response = spoken.value
    assert response.status == 200 and response.headers["content-type"] == "audio/wav"
    request = json.loads(response.request.post_data)
    assert request["sender"] == SAVED["sender"]
    # The numbered choices are read out too.
    assert request["text"] == SAVED["messages"][2]["text"]
    expect(speaker).to_have_attribute("aria-pressed", "true")
    expect(speaker).to_have_text("停止朗读")
    expect(speaker).to_have_attribute("aria-pressed", "false", timeout=30_000)  # played out
    expect(speaker).to_have_text("朗读")

    # Pressing it again while it plays stops it at once.
    speaker.click()
    expect(speaker).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(300)
    speaker.click()
    expect(speaker).to_have_attribute("aria-pressed", "false", timeout=1000)
    # Another message's button takes over from the first.
    first = page.locator("#log li.from-bot").first.locator(".button-speak")
    speaker.click()
    first.click()
    expect(speaker).to_have_attribute("aria-pressed", "false")
    expect(first).to_have_attribute("aria-pressed", "true")
    assert page.js_errors == []


def test_messages_are_shown_as_text_never_as_html(page: Page, static_gateway: Service):
    attack = '<img src=x onerror="window.__xss=1">'
    saved = json.loads(json.dumps(SAVED))
    saved["messages"][2]["text"] = "<b>粗</b>" + attack
    saved["messages"][2]["buttons"] = [{"title": attack, "payload": "/x"}]
    restore(page, static_gateway.url, saved)
    send_text(page, attack + "<script>window.__xss=2</script>")
    expect(user_messages(page).last).to_have_text(attack + "<script>window.__xss=2</script>")
    expect(bot_messages(page).last).to_have_text("<b>粗</b>" + attack)
    expect(choices(page)).to_have_count(0)  # answered: the old choices are gone
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.locator("#log img, #log b, #log script, #choice-list img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.js_errors == []


def test_id_and_phone_numbers_are_masked_on_screen_and_in_storage(page: Page, static_gateway):
    open_widget(page, static_gateway.url)
    send_text(page, "我的身份证号 110105 19490312 0021，电话13800138001")
    expect(user_messages(page).last).to_have_text(
        "我的身份证号 110105********0021，电话138****8001"
    )
    stored = page.evaluate("localStorage.getItem('laoban.widget.v1')")
    assert "19490312" not in stored and "00138" not in stored


def test_assistant_unreachable_shows_error_and_keeps_the_question(page: Page, static_gateway):
    """Rasa is not running behind this gateway: a clear message, nothing lost, retried."""
    open_widget(page, static_gateway.url)
    send_text(page, "我要换身份证")
    banner = page.locator("#status")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("助手暂时没有回应，正在自动重试")
    expect(page.locator("#log li.from-user .message-note")).to_have_text(
        "还没发出去，连上后会自动发送。"
    )
    expect(page.locator("#typing")).to_be_hidden()
    # It keeps trying by itself (and the button tries at once).
    with page.expect_request("**/v1/chat") as retried:
        page.get_by_role("button", name="马上重试").click()
    assert json.loads(retried.value.post_data)["text"] == "我要换身份证"
    # After a reload the question is still there and still waiting to be sent.
    first_sender = sender(page)
    page.reload()
    expect(user_messages(page)).to_have_text(["我要换身份证"])
    assert sender(page) == first_sender


def test_gateway_down_then_back(browser, screenshots):
    """The server itself goes away: the page says so, and reconnects when it is back."""
    port = free_port()
    service = _gateway("gateway-restart", port, static_gateway_env(port))
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        with service:
            page = context.new_page()
            restore(page, service.url)
            service.stop()
            send_text(page, "北京市")
            expect(page.locator("#status")).to_contain_text("连不上服务器", timeout=10_000)
            expect(page.locator("#log li.from-user .message-note").last).to_have_text(
                "还没发出去，连上后会自动发送。"
            )
            page.screenshot(path=screenshots / "04-error.png")
            with page.expect_request("**/v1/chat", timeout=30_000) as resent:
                service.start()
            assert json.loads(resent.value.post_data)["text"] == "北京市"
            # Back, with Rasa still missing behind it: the message changes accordingly.
            expect(page.locator("#status")).to_contain_text("助手暂时没有回应")
    finally:
        context.close()


@pytest.fixture
def host_site(tmp_path, static_gateway: Service) -> Iterator[str]:
    """Another site (another origin) whose page embeds the widget with one tag."""
    (tmp_path / "index.html").write_text(
        f"""<!doctype html><html lang="zh-CN"><head>
    <meta charset="utf-8"><title>县政府网站</title>
    <style>body {{ font-size: 12px; }} iframe {{ height: 10px; }}</style></head>
    <body><main><h1>办事服务</h1>
    <script src="{static_gateway.url}/embed.js" async></script>
    <p>页脚</p></main></body></html>""",
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_embedding_with_one_script_tag(page: Page, host_site: str):
    page.goto(host_site + "/")
    frame_element = page.locator("iframe.laoban-assistant-frame")
    expect(frame_element).to_have_attribute("title", "政务服务助手")
    assert "microphone" in frame_element.get_attribute("allow")
    # Inserted where the tag is, and the host's CSS cannot squash it.
    assert page.evaluate(
        "document.querySelector('.laoban-assistant').previousElementSibling.src"
    ).endswith("/embed.js")
    assert frame_element.bounding_box()["height"] >= 600
    frame = page.frame_locator("iframe.laoban-assistant-frame")
    expect(frame.locator("body")).to_have_attribute("data-ready", "true")
    expect(frame.get_by_role("button", name="转人工")).to_be_visible()
    inner = page.frames[1]
    assert inner.evaluate("getComputedStyle(document.body).fontSize") == "24px"
    assert axe_problems(page, iframes=False) == []  # the widget itself is checked above


def test_agent_view_needs_the_staff_password(static_gateway: Service):
    for path in ("/agent", "/v1/agent/handovers"):
        anonymous = httpx.get(static_gateway.url + path)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Basic ")
        wrong = httpx.get(static_gateway.url + path, auth=(AGENT_USER, "wrong"))
        assert wrong.status_code == 401
    bad_name = httpx.get(static_gateway.url + "/agent", auth=("<script>", AGENT_PASSWORD))
    assert bad_name.status_code == 401
    page = httpx.get(static_gateway.url + "/agent", auth=(AGENT_USER, AGENT_PASSWORD))
    assert page.status_code == 200 and "转人工请求" in page.text
    assert page.headers["cache-control"] == "no-store"
    take = httpx.post(static_gateway.url + "/v1/agent/handovers/h-1/take", json={})
    assert take.status_code == 401
    # Signed in, but the exchange is not running: a clear problem, not a crash.
    queue = httpx.get(static_gateway.url + "/v1/agent/handovers", auth=(AGENT_USER, AGENT_PASSWORD))
    assert queue.status_code == 503
    assert queue.headers["content-type"].startswith("application/problem+json")


def test_agent_page_says_when_the_queue_is_unreachable(browser, static_gateway: Service):
    context = browser.new_context(
        http_credentials={"username": AGENT_USER, "password": AGENT_PASSWORD}, locale="zh-CN"
    )
    try:
        page = context.new_page()
        page.goto(static_gateway.url + "/agent")
        expect(page.locator("#error")).to_have_text("暂时读不到转人工请求，稍后会自动重试。")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert axe_problems(page) == []
    finally:
        context.close()
