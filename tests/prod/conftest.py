"""Fixtures for the production profile: real PostgreSQL and Redis, each test run in
its own schemas and Redis key prefix, removed again at the end.

``prod_stack`` starts the profile the way `make run-prod` does (``python -m
scripts.prod``: preflight, schemas, demo data, honcho with Procfile.prod) on free
ports, and stops the whole process group afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import redis

from tests.support.processes import Service
from tests.support.prodstack import (
    RunNames,
    postgres_or_skip,
    prod_environment,
    redis_problem,
    remove_run,
    run_prod,
)

# Test modules import these from here.
from tests.support.prodstack import delete_keys as delete_keys
from tests.support.prodstack import drop_schemas as drop_schemas
from tests.support.prodstack import wait_for_backends as wait_for_backends

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 1


@dataclass
class Isolation(RunNames):
    """Names that belong to one test run only."""

    prefix: str = "prod_test"


@pytest.fixture(scope="session")
def pg_url() -> str:
    return postgres_or_skip()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)
    problem = redis_problem(client)
    if problem:
        client.close()
        pytest.skip(f"Redis on {REDIS_HOST}:{REDIS_PORT} unusable: {problem}")
    yield client
    client.close()


@pytest.fixture
def isolation(pg_url: str, redis_client: redis.Redis) -> Iterator[Isolation]:
    names = Isolation()
    yield names
    remove_run(names, pg_url=pg_url, redis_client=redis_client)


def prod_env(names: Isolation, pg_url: str, var_dir: Path) -> dict[str, str]:
    """The production environment on free ports, in this run's schemas and key prefix."""
    redis_address = {
        "REDIS_HOST": REDIS_HOST,
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_DB": str(REDIS_DB),
    }
    return prod_environment(names, pg_url=pg_url, var_dir=var_dir, base=redis_address)


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
    # Turns alternate between the replicas: the hardest case for shared conversations.
    # (Routing by conversation: test_make_run_prod.py, test_replica_faults.py, test_proxy.py.)
    env["RASA_ROUTING"] = "round-robin"
    # Every variable the profile reads is set here, so a developer's .env changes nothing.
    try:
        with run_prod(env, name="run-prod") as service:
            yield ProdStack(env, service)
    finally:
        remove_run(names, pg_url=pg_url, redis_client=redis_client)
