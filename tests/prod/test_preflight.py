"""`make run-prod` checks PostgreSQL and Redis first and stops with one clear sentence.

The checks run against the real servers; the wrong addresses are free local ports
(nothing listens there), so "not reachable" is real, not simulated.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import psycopg2
import pytest

from scripts import prod
from tests.prod.conftest import Isolation, prod_env
from tests.support.processes import PYTHON, ROOT, free_port, port_open

pytestmark = pytest.mark.postgres


@pytest.fixture
def env(isolation: Isolation, pg_url: str, tmp_path: Path) -> dict[str, str]:
    env = prod_env(isolation, pg_url, tmp_path)
    # Preflight only looks for the file; these tests need no trained model.
    env["RASA_MODEL"] = str(tmp_path / "model.tar.gz")
    Path(env["RASA_MODEL"]).touch()
    return env


def run_prod(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "scripts.prod"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def schema_exists(url: str, schema: str) -> bool:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            return cursor.fetchone() is not None
    finally:
        connection.close()


def assert_nothing_started(env: dict[str, str], pg_url: str) -> None:
    ports = [env["RASA_PORT"], env["ACTIONS_PORT"], env["EXCHANGE_PORT"], env["GATEWAY_PORT"]]
    assert not any(port_open(int(port)) for port in ports)
    assert not schema_exists(pg_url, env["TRACKER_SCHEMA"])
    assert not schema_exists(pg_url, env["EXCHANGE_DB_SCHEMA"])


def test_the_real_servers_pass(env):
    assert prod.preflight(env, local=False) == []


def test_wrong_redis_port_stops_with_one_sentence(env, pg_url):
    port = free_port()
    env["REDIS_PORT"] = str(port)
    done = run_prod(env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"[run-prod] Redis is not reachable at 127.0.0.1:{port} (db 1) (connection refused): "
        "start it there or change REDIS_HOST / REDIS_PORT."
    )
    assert_nothing_started(env, pg_url)


def test_wrong_postgresql_address_stops_with_one_sentence(env, pg_url):
    port = free_port()
    env["TRACKER_URL"] = env["EXCHANGE_DATABASE_URL"] = (
        f"postgresql://postgres@127.0.0.1:{port}/test"
    )
    done = run_prod(env)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"[run-prod] PostgreSQL is not reachable at 127.0.0.1:{port} (database test) "
        "(connection refused): start it there or change TRACKER_URL and EXCHANGE_DATABASE_URL."
    )
    assert_nothing_started(env, pg_url)


def test_each_wrong_address_gets_its_own_sentence(env, pg_url):
    env["EXCHANGE_DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + "/no_such_database_here"
    env["REDIS_PORT"] = str(free_port())
    done = run_prod(env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "(database no_such_database_here) (does not exist)" in lines[0]
    assert lines[0].endswith("change EXCHANGE_DATABASE_URL.")
    assert lines[1].startswith("[run-prod] Redis is not reachable")
    assert_nothing_started(env, pg_url)


def test_a_sqlite_url_is_refused_before_connecting(env):
    env["TRACKER_URL"] = "sqlite:///var/tracker.db"
    assert prod.preflight(env) == [
        "The production profile keeps its data in PostgreSQL, but TRACKER_URL points to "
        "sqlite: set TRACKER_URL to postgresql://USER@HOST:PORT/DB."
    ]


def test_settings_rasa_would_ignore_silently_are_refused(env):
    env["LOCK_KEY_PREFIX"] = "my-app"  # Rasa would fall back to the shared default prefix
    env["RASA_REPLICAS"] = "two"
    env["RASA_ROUTING"] = "sticky"
    assert prod.preflight(env) == [
        "RASA_REPLICAS='two' is not a number of copies: set it to 1 or more.",
        "RASA_ROUTING='sticky' is not a way to route: set it to round-robin or conversation.",
        "LOCK_KEY_PREFIX='my-app' must be letters and digits only.",
    ]


def test_busy_ports_are_named(env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(env["RASA_REPLICA_PORT"])))
        sock.listen()
        problems = prod.check_local(env)
    assert problems == [
        f"These ports are already in use: RASA_REPLICA_PORT={env['RASA_REPLICA_PORT']}: "
        "stop the other program or set other ports in .env."
    ]


def test_prepare_makes_the_tracker_schema_and_table(env, pg_url):
    prod.prepare(env)
    connection = psycopg2.connect(pg_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (env["TRACKER_SCHEMA"],),
            )
            assert cursor.fetchall() == [("events",)]
    finally:
        connection.close()
    prod.prepare(env)  # safe to repeat (k8s runs it before every Rasa pod)
