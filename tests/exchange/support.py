"""Helpers shared by the exchange tests: a fake clock, a signing test client, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import uuid
from typing import Any

import httpx
import psycopg2
from fastapi.testclient import TestClient

from exchange.core import signing
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, ClientConfig, Settings
from exchange.seed import demo_identities
from tests.support.processes import ROOT

DEMO_FILE = ROOT / "data" / "demo" / "citizens.yml"
# Monday 2 June 2025, 10:00 in Beijing: dates in tests are computed from here.
START = dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)

# A second client that may only look up service halls (for purpose checks).
KIOSK_ID, KIOSK_SECRET = "hall-kiosk", "kiosk-test-secret"

# Name -> (ID number, phone last 4) of every demo citizen, read from the demo register.
DEMO = demo_identities(path=DEMO_FILE)


class FakeClock:
    """Injected as the app's clock: tests move time instead of sleeping."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def client_configs() -> dict[str, ClientConfig]:
    return {
        DEV_CLIENT_ID: ClientConfig(secret=DEV_CLIENT_SECRET, name="政务服务智能助手"),
        KIOSK_ID: ClientConfig(
            secret=KIOSK_SECRET, name="大厅导引机", purposes=["service_hall_lookup"]
        ),
    }


def settings_for(database_url: str, schema: str | None = None) -> Settings:
    return Settings(
        environment="test", database_url=database_url, db_schema=schema, clients=client_configs()
    )


@functools.cache
def postgres() -> tuple[str | None, str]:
    """(URL, "") for the test PostgreSQL server, or (None, why it is not usable)."""
    candidates = [os.environ.get("EXCHANGE_TEST_POSTGRES_URL")] + [
        f"postgresql://{user}@127.0.0.1:5432/test" for user in ("postgres", "root")
    ]
    reason = ""
    for url in filter(None, candidates):
        try:
            psycopg2.connect(url, connect_timeout=3).close()
            return url, ""
        except psycopg2.Error as exc:
            reason = str(exc).strip().splitlines()[0]
    return (
        None,
        f"PostgreSQL on 127.0.0.1:5432 (database test, user postgres/root) unusable: {reason}",
    )


def new_schema_name() -> str:
    return f"exchange_test_{uuid.uuid4().hex[:12]}"


def clone_schema(url: str, template: str, schema: str) -> None:
    """Copy a seeded schema: tables with constraints and indexes, rows, foreign keys.

    Much faster than creating and seeding each test's schema from scratch. Serial
    columns keep drawing from the template's sequences, which is harmless.
    """
    from exchange.models import Base

    statements = [f'CREATE SCHEMA "{schema}"']
    for table in Base.metadata.sorted_tables:
        statements += [
            f'CREATE TABLE "{schema}".{table.name} (LIKE "{template}".{table.name} INCLUDING ALL)',
            f'INSERT INTO "{schema}".{table.name} SELECT * FROM "{template}".{table.name}',
        ]
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            columns = ", ".join(column.name for column in fk.columns)
            targets = ", ".join(element.column.name for element in fk.elements)
            statements.append(
                f'ALTER TABLE "{schema}".{table.name} ADD CONSTRAINT {fk.name} FOREIGN KEY '
                f'({columns}) REFERENCES "{schema}".{fk.referred_table.name} ({targets})'
            )
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(";\n".join(statements))
    finally:
        connection.close()


def drop_schema(url: str, schema: str) -> None:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        connection.close()


class Api:
    """Signs requests like a real client would, with the fake clock's time."""

    def __init__(
        self,
        client: TestClient,
        clock: FakeClock,
        client_id: str = DEV_CLIENT_ID,
        secret: str = DEV_CLIENT_SECRET,
    ) -> None:
        self.client, self.clock = client, clock
        self.client_id, self.secret = client_id, secret

    def request(
        self,
        method: str,
        path: str,
        *,
        purpose: str,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        omit: tuple[str, ...] = (),
        **signing_overrides: Any,
    ) -> httpx.Response:
        if content is None:
            content = (
                b"" if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
            )
        request_headers = {"Content-Type": "application/json"} if content else {}
        if idempotency_key is not None:
            request_headers["Idempotency-Key"] = idempotency_key
        request = self.client.build_request(
            method, path, params=params, content=content, headers=request_headers
        )
        # Identical requests signed at the same instant would share a signature, which
        # the exchange rightly takes for a replay; a real clock always moves on.
        self.clock.advance(milliseconds=1)
        signed = {
            "client_id": self.client_id,
            "secret": self.secret,
            "purpose": purpose,
            "method": method,
            "target": request.url.raw_path.decode("ascii"),
            "body": content,
            "timestamp": signing.format_timestamp(self.clock()),
        }
        signed.update(signing_overrides)
        request.headers.update(signing.signed_headers(**signed))
        request.headers.update(headers or {})
        for name in omit:
            del request.headers[name]
        return self.client.send(request)

    def get(self, path: str, *, purpose: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, purpose=purpose, **options)

    def post(self, path: str, body: Any, *, purpose: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, purpose=purpose, json_body=body, **options)

    def verify(self, name: str, **overrides: str) -> httpx.Response:
        id_number, last4 = DEMO[name]
        body = {"name": name, "id_number": id_number, "phone_last4": last4, **overrides}
        return self.post("/v1/identity/verify", body, purpose="identity_verification")


def assert_problem(
    response: httpx.Response, status: int, *, field: str | None = None, slug: str | None = None
) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    if field is not None:
        assert problem.get("field") == field, problem
    if slug is not None:
        assert problem["type"] == f"urn:exchange:problem:{slug}", problem
    return problem
