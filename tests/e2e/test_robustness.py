"""Noise, fallbacks, identity failures, an exchange outage, privacy, 20 at once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CITIZENS

pytestmark = pytest.mark.slow

NOISE = ["？？？", "。。。!!!", "🙂🙂🙂👍", "a1b2中文mixed 文字 ☆★", "嗯" * 2000, "   "]


def test_noise_gets_a_short_answer_never_a_crash(chat):
    for text in NOISE:
        reply = chat.say(text)
        assert reply.strip(), text[:20]
        assert len(reply) < 200


def test_two_fallbacks_in_a_row_offer_a_person(chat):
    chat.say("？？？")
    reply = chat.say("。。。")
    assert "人工" in reply


def test_three_identity_failures_stop_and_offer_a_person_and_a_hall(chat):
    chat.say("我要补办社保卡")
    for _ in range(3):
        assert chat.slot("requested_slot") == "person_name"
        chat.say("我叫赵国强")
        chat.say(CITIZENS["赵国强"][0])
        reply = chat.say("1234")
    assert "三次" in reply and "人工" in reply and "办事大厅" in reply
    assert chat.slot("requested_slot") is None
    reply = chat.say("二")  # picks "找办事大厅"
    assert chat.slot("requested_slot") == "city"


def test_request_human_at_any_point_queues_a_masked_summary(chat, exchange_db):
    chat.say("我要换身份证")
    chat.say("我叫张桂芳")
    chat.say(CITIZENS["张桂芳"][0])
    reply = chat.say("转人工")
    assert "人工" in reply and "分钟" in reply
    assert chat.tracker()["active_loop"] in ({}, None, {"name": None})
    (row,) = exchange_db.rows(
        "select service, channel, summary from handovers where conversation_id = ?", chat.sender
    )
    assert row["service"] == "renew_id_card"
    summary = json.loads(row["summary"])
    assert summary["slots"]["id_number"] == "110105********0021"
    assert CITIZENS["张桂芳"][0] not in row["summary"]
    assert 1 <= len(summary["turns"]) <= 5


def test_exchange_down_apologises_and_a_retry_files_once(chat, stopped_exchange, exchange_db):
    chat.say("我要办异地就医备案")
    chat.verify("王秀英")
    chat.say("上海")
    chat.say("一")
    assert chat.slot("requested_slot") == "confirmation"
    stopped_exchange.stop()
    reply = chat.say("对")
    assert "对不起" in reply and "12345" in reply and "再试" in reply
    assert chat.slot("pending_offer") == "retry_submit"
    stopped_exchange.start()
    reply = chat.say("好")
    assert "编号" in reply
    filed = [
        a
        for a in exchange_db.applications("王秀英", "medical_insurance_filing")
        if a["destination_city"] == "上海市"
    ]
    assert len(filed) == 1


def test_stored_conversation_holds_no_full_id_number(chat, stack_env):
    chat.say("我要换身份证")
    chat.verify("李建国")
    path = Path(stack_env["TRACKER_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        stored = "\n".join(
            r[0] for r in db.execute("select data from events where sender_id = ?", (chat.sender,))
        )
    assert stored, "the conversation was not stored in the SQL tracker store"
    assert CITIZENS["李建国"][0] not in stored
    assert "440106********003X" in stored
    assert chat.slot("id_number") == CITIZENS["李建国"][0]  # the conversation still has it


async def test_twenty_conversations_at_once(rasa_server, stack_env):
    url = f"{stack_env['RASA_URL']}/webhooks/rest/webhook"
    names = list(CITIZENS)

    async def conversation(client: httpx.AsyncClient, index: int) -> str:
        sender = f"load-{index}"

        async def say(text: str) -> str:
            response = await client.post(url, json={"sender": sender, "message": text})
            assert response.status_code == 200, response.text
            return "\n".join(m.get("text", "") for m in response.json())

        if index % 2:
            await say("成都的办事大厅在哪")
            return await say("都可以")
        name = names[index % len(names)]
        number, last4 = CITIZENS[name]
        await say("查一下养老金")
        await say(f"我叫{name}")
        await say(number)
        return await say(last4)

    async with httpx.AsyncClient(timeout=180) as client:
        replies = await asyncio.gather(*(conversation(client, i) for i in range(20)))
    for index, reply in enumerate(replies):
        assert ("地址" in reply) if index % 2 else ("元" in reply), reply
