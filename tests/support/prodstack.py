"""What the real stacks of the tests and the benchmarks share.

A run gets PostgreSQL schemas and a Redis lock-key prefix of its own
(``RunNames``) and removes them again afterwards (``remove_run``), so runs never
see each other's conversations, applications or locks. Replicas take runs of
neighbouring free ports, and a production stack counts as up only when its
proxies (scripts/proxy.py) see every backend healthy.

bench/stack.py imports this module outside pytest too.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg2
import redis

from scripts import stack
from tests.support.processes import PYTHON, ROOT, Service, free_port, free_port_run

RASA = str(Path(PYTHON).with_name("rasa"))
# The Rasa server as the Procfiles start it: `rasa` without JAX (rasa_addons/serve.py).
RASA_SERVER = [PYTHON, "-m", "rasa_addons.serve"]


def rasa_run_args(
    *, model: str | Path, token: str, port: int | str, endpoints: str = "bot/endpoints.yml"
) -> list[str]:
    """`rasa run` as the Procfile says it (without the executable), on ``port``."""
    return [
        "run", "--model", str(model), "--enable-api",
        "--auth-token", token, "--interface", "127.0.0.1", "--port", str(port),
        "--endpoints", str(ROOT / endpoints),
        "--credentials", str(ROOT / "bot" / "credentials.yml"),
    ]  # fmt: skip


def rasa_server_command(
    *, model: str | Path, token: str, port: int | str, endpoints: str = "bot/endpoints.yml"
) -> list[str]:
    """The whole command of a Rasa server as the Procfile starts it, on ``port``."""
    return [
        *RASA_SERVER,
        *rasa_run_args(model=model, token=token, port=port, endpoints=endpoints),
    ]


# ---------------------------------------------------------------- names of one run


@dataclass
class RunNames:
    """PostgreSQL schemas and a Redis lock-key prefix that belong to one run only."""

    prefix: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def tracker_schema(self) -> str:
        return f"{self.prefix}_{self.run}_tracker"

    @property
    def exchange_schema(self) -> str:
        return f"{self.prefix}_{self.run}_exchange"

    @property
    def schemas(self) -> tuple[str, str]:
        return self.tracker_schema, self.exchange_schema

    @property
    def key_prefix(self) -> str:
        # Rasa's Redis lock store ignores a prefix that is not letters and digits only.
        return f"{self.prefix.replace('_', '')}{self.run}"


# ---------------------------------------------------------------- PostgreSQL and Redis


def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at ``url`` is unusable (the error's first line), or None."""
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.Error as error:
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__
    return None


def redis_problem(client: redis.Redis) -> str | None:
    """Why the Redis behind ``client`` is unusable, or None."""
    try:
        client.ping()
    except redis.RedisError as error:
        return str(error) or type(error).__name__
    return None


def postgres_or_skip() -> str:
    """The test PostgreSQL server's URL; skips the test when there is none."""
    # Imported here, not above: bench/stack.py uses this module outside pytest.
    import pytest

    from tests.exchange.support import postgres

    url, reason = postgres()
    if url is None:
        pytest.skip(reason)
    return url


def _execute_each(url: str, statements: Iterable[str]) -> None:
    connection = psycopg2.connect(url)
    # Schema statements on their own: one that fails leaves the earlier ones done.
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_schemas(url: str, *schemas: str) -> None:
    _execute_each(url, [f'CREATE SCHEMA "{schema}"' for schema in schemas])


def drop_schemas(url: str, *schemas: str) -> None:
    """Drop the schemas and everything in them; one that is not there is fine."""
    _execute_each(url, [f'DROP SCHEMA IF EXISTS "{schema}" CASCADE' for schema in schemas])


def schema_exists(url: str, schema: str) -> bool:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select 1 from information_schema.schemata where schema_name = %s", (schema,)
            )
            return cursor.fetchone() is not None
    finally:
        connection.close()


def delete_keys(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def remove_run(names: RunNames, *, pg_url: str, redis_client: redis.Redis) -> None:
    """Drop the run's schemas and delete its lock keys (the keys even if dropping fails)."""
    try:
        drop_schemas(pg_url, *names.schemas)
    finally:
        delete_keys(redis_client, names.key_prefix)


# ---------------------------------------------------------------- the production profile


def prod_environment(
    names: RunNames, *, pg_url: str, var_dir: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The production environment on free ports, in the run's schemas and key prefix.

    Replica counts are the defaults (2 and 2): a run of 2 free ports is taken for each.
    """
    ports = {name: free_port() for name in stack.DEFAULT_PORTS}
    ports["RASA_REPLICA_PORT"] = free_port_run(2)
    ports["ACTIONS_REPLICA_PORT"] = free_port_run(2)
    run_base = {
        "TRACKER_URL": pg_url,
        "EXCHANGE_DATABASE_URL": pg_url,
        "TRACKER_SCHEMA": names.tracker_schema,
        "EXCHANGE_DB_SCHEMA": names.exchange_schema,
        "LOCK_KEY_PREFIX": names.key_prefix,
        **(base or {}),
    }
    return stack.production_environment(run_base, ports=ports, var_dir=var_dir)


def wait_for_backends(url: str, count: int, *, timeout: float) -> None:
    """Until the proxy at ``url`` reports ``count`` healthy backends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(httpx.get(f"{url}/_proxy/health", timeout=2).json()["up"]) >= count:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise TimeoutError(f"the proxy at {url} never saw {count} healthy backends")


@contextlib.contextmanager
def run_prod(env: dict[str, str], *, name: str) -> Iterator[Service]:
    """`python -m scripts.prod` (as `make run-prod`) until every replica is healthy;
    the whole process group is stopped afterwards."""
    service = Service(
        name, [PYTHON, "-m", "scripts.prod"], int(env["RASA_PORT"]), env=env,
        health_path="/_proxy/health", startup_timeout=600,
    )  # fmt: skip
    with service:
        # The proxies answer before the replicas behind them do (loading a model takes a while).
        wait_for_backends(env["RASA_URL"], int(env["RASA_REPLICAS"]), timeout=600)
        actions = f"http://127.0.0.1:{env['ACTIONS_PORT']}"
        wait_for_backends(actions, int(env["ACTIONS_REPLICAS"]), timeout=180)
        yield service
