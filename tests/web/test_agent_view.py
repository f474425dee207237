"""The agent view against the real exchange's handover queue (no Rasa needed).

Requests are queued with the signed exchange client, as the assistant's
handover action does; staff read and take them through the gateway.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from exchange.client import ExchangeClient
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.support.processes import Service, free_port
from tests.web.conftest import (
    AGENT_PASSWORD,
    AGENT_USER,
    DESKTOP,
    _gateway,
    static_gateway_env,
)
from tests.web.widget import axe_problems

STAFF = (AGENT_USER, AGENT_PASSWORD)


@pytest.fixture(scope="module")
def agent_gateway(stack_env: dict[str, str], exchange_server: Service) -> Iterator[Service]:
    """The gateway in front of the real exchange; no assistant behind it."""
    port = free_port()
    env = {
        **stack_env,
        "GATEWAY_PORT": str(port),
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "VOSK_MODEL_PATH": "/nonexistent/vosk-model",
        "AGENT_PASSWORD": AGENT_PASSWORD,
    }
    with _gateway("gateway-agent", port, env) as service:
        yield service


@pytest.fixture
def queue(stack_env: dict[str, str], exchange_server: Service) -> Iterator[ExchangeClient]:
    with ExchangeClient(stack_env["EXCHANGE_URL"], DEV_CLIENT_ID, DEV_CLIENT_SECRET) as client:
        yield client


def queued(queue: ExchangeClient, **summary_extra) -> str:
    """A new open request for a new conversation; its conversation id."""
    conversation = f"web-test-{uuid.uuid4().hex[:12]}"
    summary = {
        "service": "transfer_social_insurance",
        "slots": {"person_name": "张桂芳", "id_number": "110105********0021", "to_city": "成都市"},
        "turns": [
            {"user": "我要把社保转到成都", "bot": ["好的，我帮您办社保转移。"]},
            {"user": "/request_human", "bot": []},
        ],
        **summary_extra,
    }
    queue.create_handover(
        conversation, summary, service="transfer_social_insurance", channel="kiosk"
    )
    return conversation


def open_requests(gateway: Service) -> list[dict]:
    response = httpx.get(gateway.url + "/v1/agent/handovers", auth=STAFF)
    assert response.status_code == 200, response.text
    assert response.json()["agent"] == AGENT_USER
    return response.json()["handovers"]


def test_requests_are_listed_masked_and_taken_once(agent_gateway: Service, queue):
    # A citizen typed whole numbers in a turn the summary kept verbatim.
    turns = [{"user": "我的身份证110105194903120021，电话13800138001", "bot": []}]
    conversation = queued(queue, turns=turns)
    mine = [h for h in open_requests(agent_gateway) if h["conversation_id"] == conversation]
    assert len(mine) == 1
    request = mine[0]
    assert request["status"] == "open" and request["channel"] == "kiosk"
    text = request["summary"]["turns"][0]["user"]
    assert "110105194903120021" not in text and "110105********0021" in text
    assert "13800138001" not in text

    handover_id = request["handover_id"]
    take_url = f"{agent_gateway.url}/v1/agent/handovers/{handover_id}/take"
    # Another site posting a form with the staff member's cached credentials (CSRF).
    forged = httpx.post(
        take_url, auth=STAFF, data={"x": "1"}, headers={"Origin": "http://evil.test"}
    )
    assert forged.status_code == 403
    forged = httpx.post(take_url, auth=STAFF, json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403
    assert any(h["handover_id"] == handover_id for h in open_requests(agent_gateway))

    taken = httpx.post(take_url, auth=STAFF, json={})
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "taken" and taken.json()["agent"] == AGENT_USER
    assert all(h["handover_id"] != handover_id for h in open_requests(agent_gateway))

    # Someone else, a moment later: a clear refusal, nothing changes.
    again = httpx.post(take_url, auth=("staff02", AGENT_PASSWORD), json={})
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    missing = httpx.post(
        f"{agent_gateway.url}/v1/agent/handovers/RG0000000000/take", auth=STAFF, json={}
    )
    assert missing.status_code == 404


def test_staff_take_a_request_in_the_browser(browser: Browser, agent_gateway: Service, queue):
    conversation = queued(queue)
    context = browser.new_context(
        viewport=DESKTOP,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        http_credentials={"username": AGENT_USER, "password": AGENT_PASSWORD},
    )
    try:
        page = context.new_page()
        page.goto(agent_gateway.url + "/agent")
        card = page.locator(f'li.handover[data-conversation-id="{conversation}"]')
        expect(card).to_be_visible()
        expect(card.locator(".handover-title")).to_contain_text("社保跨省转移")
        expect(card.locator(".meta")).to_contain_text("自助机器人")
        expect(card.locator(".slots")).to_contain_text("110105********0021")
        expect(card.locator(".turns")).to_contain_text("群众：我要把社保转到成都")
        expect(card.locator(".turns")).to_contain_text("群众：转人工")  # a payload, in words
        assert axe_problems(page) == []

        # Keyboard only: Tab to the button, Enter.
        take = card.get_by_role("button", name="接单")
        for _ in range(60):
            page.keyboard.press("Tab")
            if take.evaluate("el => el === document.activeElement"):
                break
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_have_text(
            f"已由 {AGENT_USER} 接单：社保跨省转移（对话编号 {conversation}）。"
        )
        page.get_by_role("button", name="刷新").click()
        expect(card).to_have_count(0)
    finally:
        context.close()


@pytest.fixture(scope="module")
def locking_gateway() -> Iterator[Service]:
    """No exchange needed: signing in is decided before the queue is asked."""
    port = free_port()
    env = {
        **static_gateway_env(port),
        "VOICE_AGENT_MAX_FAILURES": "3",
        "VOICE_AGENT_LOCK_MINUTES": "0.05",  # 3 s, so the test can see it end
    }
    with _gateway("gateway-agent-lock", port, env) as service:
        yield service


def test_wrong_passwords_lock_signing_in_from_that_address(locking_gateway: Service):
    queue_url = locking_gateway.url + "/v1/agent/handovers"
    page_url = locking_gateway.url + "/agent"
    for _ in range(2):
        wrong = httpx.get(queue_url, auth=(AGENT_USER, "guess"))
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Basic ")
    locked = httpx.get(queue_url, auth=(AGENT_USER, "guess"))  # the third wrong one
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.headers["retry-after"] == "3"
    assert locked.json()["title"] == "Too many wrong passwords"

    # While locked, even the right password waits (or guessing could go on).
    assert httpx.get(queue_url, auth=STAFF).status_code == 429
    page = httpx.get(page_url, auth=STAFF)
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert "密码输错的次数太多了。请 1 分钟后再登录。" in page.text
    assert page.headers["cache-control"] == "no-store"

    time.sleep(int(page.headers["retry-after"]) + 0.3)
    page = httpx.get(page_url, auth=STAFF)
    assert page.status_code == 200 and "转人工请求" in page.text
    # A right password forgot the slips: two more wrong ones do not lock again.
    assert [httpx.get(page_url, auth=(AGENT_USER, "x")).status_code for _ in range(2)] == [401, 401]
    assert httpx.get(page_url, auth=STAFF).status_code == 200
