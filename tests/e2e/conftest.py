"""End-to-end helpers: talk to the real Rasa server over its REST channel and read
the real exchange database. The processes come from tests/conftest.py."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.seed import demo_identities
from tests.support.processes import Service

# Name -> (ID number, phone last 4) of the retired demo citizens. The load test
# (test_robustness.py) asks each of them for pension payments, so the younger
# citizen without a pension (test_senior_card.py) is left out on purpose.
CITIZENS = demo_identities(pension_status="retired")


@dataclass
class Chat:
    """One conversation over Rasa's REST channel, as the gateway holds it."""

    rasa_url: str
    token: str
    sender: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:12]}")
    timeout: float = 60.0
    replies: list[list[dict[str, Any]]] = field(default_factory=list)

    def say(self, text: str, metadata: dict | None = None) -> str:
        body: dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=self.timeout
        )
        assert response.status_code == 200, response.text
        messages = response.json()
        self.replies.append(messages)
        return "\n".join(m.get("text", "") for m in messages)

    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.replies[-1] for b in m.get("buttons") or []]

    def tracker(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.rasa_url}/conversations/{self.sender}/tracker",
            params={"token": self.token},
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()

    def slot(self, name: str) -> Any:
        return self.tracker()["slots"].get(name)

    def verify(self, name: str) -> str:
        """Answer the identity questions for a demo citizen; returns the last reply."""
        number, last4 = CITIZENS[name]
        assert self.slot("requested_slot") == "person_name", self.replies[-1]
        self.say(f"我叫{name}")
        assert self.slot("requested_slot") == "id_number"
        self.say(number)
        assert self.slot("requested_slot") == "phone_last4"
        return self.say(last4)


@pytest.fixture
def chat(rasa_server: Service, stack_env: dict[str, str]) -> Chat:
    return Chat(stack_env["RASA_URL"], stack_env["RASA_TOKEN"])


@pytest.fixture
def new_chat(rasa_server: Service, stack_env: dict[str, str]):
    return lambda: Chat(stack_env["RASA_URL"], stack_env["RASA_TOKEN"])


class ExchangeDb:
    """Read-only look at the exchange's SQLite database."""

    def __init__(self, url: str) -> None:
        assert url.startswith("sqlite:///"), url
        self.path = Path(url.removeprefix("sqlite:///"))

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            return db.execute(sql, params).fetchall()

    def applications(self, name: str, service: str) -> list[dict[str, Any]]:
        rows = self.rows(
            "select a.application_no, a.status, a.details from applications a "
            "join persons p on p.id = a.person_id where p.name = ? and a.service = ? order by a.id",
            name,
            service,
        )
        return [
            {
                "application_no": r["application_no"],
                "status": r["status"],
                **json.loads(r["details"]),
            }
            for r in rows
        ]


@pytest.fixture
def exchange_db(exchange_server: Service, stack_env: dict[str, str]) -> ExchangeDb:
    return ExchangeDb(stack_env["EXCHANGE_DATABASE_URL"])


@pytest.fixture
def stopped_exchange(exchange_server: Service) -> Iterator[Service]:
    """Lets a test stop the exchange; it is running again afterwards for the others."""
    yield exchange_server
    if exchange_server.process is None or exchange_server.process.poll() is not None:
        exchange_server.start()
