"""The handover queue: the assistant files, the agent view lists and takes."""

from __future__ import annotations

import pytest

from exchange.client import AsyncExchangeClient, Rejected
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.exchange.support import KIOSK_ID, KIOSK_SECRET, Api, assert_problem
from tests.support.processes import Service

PURPOSE = "handover"
SUMMARY = {
    "service": "transfer_social_insurance",
    "slots": {"person_name": "张*芳", "id_number": "110105********0021"},
    "last_turns": [{"role": "user", "text": "我要转人工"}],
}


def file(api: Api, conversation_id: str, summary: dict | None = None, **options) -> object:
    body = {"conversation_id": conversation_id, "service": "transfer_social_insurance",
            "channel": "web", "summary": summary or SUMMARY}  # fmt: skip
    return api.post("/v1/handovers", body, purpose=PURPOSE, **options)


def test_filed_handovers_queue_up_with_a_wait_time(api: Api):
    first = file(api, "conv-1")
    assert first.status_code == 201, first.text
    second = file(api, "conv-2").json()
    assert first.json()["position"] == 1 and second["position"] == 2
    assert second["wait_minutes"] == 6
    assert second["handover_id"].startswith("RG") and len(second["handover_id"]) == 12
    assert second["summary"] == SUMMARY and second["status"] == "open"


def test_a_conversation_already_waiting_keeps_its_place(api: Api):
    first = file(api, "conv-1").json()
    again = file(api, "conv-1")
    assert again.status_code == 200
    assert again.json()["handover_id"] == first["handover_id"]
    listed = api.get("/v1/handovers", purpose=PURPOSE, params={"status": "open"}).json()
    assert [h["conversation_id"] for h in listed["handovers"]] == ["conv-1"]


def test_full_numbers_in_a_summary_are_masked_on_the_way_in(api: Api):
    leaky = {"last_turns": [{"role": "user", "text": "我是110105194903120021，电话13800138001"}]}
    stored = file(api, "conv-leak", leaky).json()
    text = stored["summary"]["last_turns"][0]["text"]
    assert "110105194903120021" not in text and "110105********0021" in text
    assert "13800138001" not in text


def test_taking_a_handover_moves_the_queue(api: Api):
    first = file(api, "conv-1").json()
    file(api, "conv-2")
    taken = api.post(f"/v1/handovers/{first['handover_id']}/take", {"agent": "staff01"},
                     purpose=PURPOSE)  # fmt: skip
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "taken" and taken.json()["agent"] == "staff01"
    waiting = api.get("/v1/handovers", purpose=PURPOSE, params={"status": "open"}).json()
    assert [(h["conversation_id"], h["position"]) for h in waiting["handovers"]] == [("conv-2", 1)]
    again = api.post(f"/v1/handovers/{first['handover_id']}/take", {"agent": "staff01"},
                     purpose=PURPOSE)  # fmt: skip
    assert again.status_code == 200  # the same person pressing twice is fine
    other = api.post(f"/v1/handovers/{first['handover_id']}/take", {"agent": "staff02"},
                     purpose=PURPOSE)  # fmt: skip
    assert assert_problem(other, 409, slug="handover-taken")["agent"] == "staff01"


def test_unknown_handover_is_404(api: Api):
    response = api.post("/v1/handovers/RG0000000000/take", {"agent": "staff01"}, purpose=PURPOSE)
    assert_problem(response, 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conversation_id": "", "summary": {}}, "conversation_id"),
        ({"conversation_id": "c", "summary": "text"}, "summary"),
        ({"conversation_id": "c", "summary": {"x": "长" * 20_001}}, "summary"),
        ({"conversation_id": "c", "summary": {}, "channel": "fax"}, "channel"),
    ],
)
def test_bad_handovers_are_422_and_change_nothing(api: Api, body: dict, field: str):
    assert_problem(api.post("/v1/handovers", body, purpose=PURPOSE), 422, field=field)
    assert api.get("/v1/handovers", purpose=PURPOSE).json() == {"handovers": []}


def test_bad_agent_name_is_422(api: Api):
    handover = file(api, "conv-1").json()["handover_id"]
    response = api.post(f"/v1/handovers/{handover}/take", {"agent": "<script>"}, purpose=PURPOSE)
    assert_problem(response, 422, field="agent")


def test_a_client_without_the_handover_purpose_is_refused(api: Api):
    kiosk = Api(api.client, api.clock, KIOSK_ID, KIOSK_SECRET)
    assert_problem(file(kiosk, "conv-1"), 403)


async def test_client_methods_against_the_real_server(exchange_process: tuple[Service, str]):
    service, _ = exchange_process
    async with AsyncExchangeClient(service.url, DEV_CLIENT_ID, DEV_CLIENT_SECRET) as client:
        options = {"service": "find_service_hall", "channel": "kiosk", "idempotency_key": "hand-1"}
        queued = await client.create_handover("client-conv", SUMMARY, **options)
        retried = await client.create_handover("client-conv", SUMMARY, **options)
        assert retried == queued
        waiting = await client.handovers(status="open")
        assert queued["handover_id"] in [h["handover_id"] for h in waiting]
        taken = await client.take_handover(queued["handover_id"], agent="staff09")
        assert taken["status"] == "taken"
        with pytest.raises(Rejected):
            await client.take_handover(queued["handover_id"], agent="staff10")
