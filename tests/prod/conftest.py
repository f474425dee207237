"""Fixtures for the production profile: real PostgreSQL and Redis, each test run in
its own schemas and Redis key prefix, removed again at the end.

``prod_stack`` starts the profile the way `make run-prod` does (``python -m
scripts.prod``: preflight, schemas, demo data, honcho with Procfile.prod) on free
ports, and stops the whole process group afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import redis

from scripts import stack
from tests.exchange.support import postgres
from tests.support.processes import PYTHON, Service, free_port, port_open

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 1


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports (replicas take neighbouring ports)."""
    for _ in range(100):
        first = free_port()
        if first + count < 65536 and not any(port_open(first + i) for i in range(count)):
            return first
    raise RuntimeError("no run of free ports found")


@dataclass
class Isolation:
    """Names that belong to one test run only."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def tracker_schema(self) -> str:
        return f"prod_test_{self.run}_tracker"

    @property
    def exchange_schema(self) -> str:
        return f"prod_test_{self.run}_exchange"

    @property
    def key_prefix(self) -> str:
        return f"prodtest{self.run}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    url, reason = postgres()
    if url is None:
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis on {REDIS_HOST}:{REDIS_PORT} unusable: {exc}")
    yield client
    client.close()


def drop_schemas(url: str, *schemas: str) -> None:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        connection.close()


def delete_keys(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def isolation(pg_url: str, redis_client: redis.Redis) -> Iterator[Isolation]:
    names = Isolation()
    yield names
    drop_schemas(pg_url, names.tracker_schema, names.exchange_schema)
    delete_keys(redis_client, names.key_prefix)


def prod_env(names: Isolation, pg_url: str, var_dir: Path) -> dict[str, str]:
    """The production environment on free ports, in this run's schemas and key prefix."""
    ports = {name: free_port() for name in stack.DEFAULT_PORTS}
    ports["RASA_REPLICA_PORT"] = free_ports(2)
    ports["ACTIONS_REPLICA_PORT"] = free_ports(2)
    base = {
        "TRACKER_URL": pg_url,
        "EXCHANGE_DATABASE_URL": pg_url,
        "TRACKER_SCHEMA": names.tracker_schema,
        "EXCHANGE_DB_SCHEMA": names.exchange_schema,
        "LOCK_KEY_PREFIX": names.key_prefix,
        "REDIS_HOST": REDIS_HOST,
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_DB": str(REDIS_DB),
    }
    return stack.production_environment(base, ports=ports, var_dir=var_dir)


@dataclass
class ProdStack:
    env: dict[str, str]
    service: Service

    @property
    def proxy_url(self) -> str:
        return self.env["RASA_URL"]

    @property
    def replica_urls(self) -> list[str]:
        return self.env["RASA_BACKENDS"].split(",")

    def tracker_events(self, sender: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.replica_urls[0]}/conversations/{sender}/tracker",
            params={"token": self.env["RASA_TOKEN"]},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()["events"]

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        connection = psycopg2.connect(self.env["EXCHANGE_DATABASE_URL"])
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def applications(self, name: str, service: str) -> list[dict[str, Any]]:
        schema = self.env["EXCHANGE_DB_SCHEMA"]
        rows = self.rows(
            f'SELECT a.application_no, a.details FROM "{schema}".applications a '
            f'JOIN "{schema}".persons p ON p.id = a.person_id '
            "WHERE p.name = %s AND a.service = %s ORDER BY a.id",
            name,
            service,
        )
        # A JSON column: psycopg2 already returns a dict.
        return [{"application_no": number, **details} for number, details in rows]


def wait_for_backends(url: str, count: int, timeout: float) -> None:
    """Until the proxy at ``url`` reports ``count`` healthy backends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(httpx.get(f"{url}/_proxy/health", timeout=2).json()["up"]) == count:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise TimeoutError(f"the proxy at {url} never saw {count} healthy backends")


@pytest.fixture(scope="module")
def prod_stack(
    pg_url: str,
    redis_client: redis.Redis,
    trained_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProdStack]:
    names = Isolation()
    env = prod_env(names, pg_url, tmp_path_factory.mktemp("prod-var"))
    env["RASA_MODEL"] = str(trained_model)
    # Every variable the profile reads is set here, so a developer's .env changes nothing.
    service = Service(
        "run-prod",
        [PYTHON, "-m", "scripts.prod"],
        int(env["RASA_PORT"]),
        env=env,
        health_path="/_proxy/health",
        startup_timeout=600,
    )
    try:
        with service:
            # Both Rasa replicas (loading a model takes a while) and both action servers.
            wait_for_backends(env["RASA_URL"], 2, timeout=600)
            wait_for_backends(f"http://127.0.0.1:{env['ACTIONS_PORT']}", 2, timeout=120)
            yield ProdStack(env, service)
    finally:
        drop_schemas(pg_url, names.tracker_schema, names.exchange_schema)
        delete_keys(redis_client, names.key_prefix)
