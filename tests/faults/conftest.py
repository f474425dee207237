"""Private stacks for fault tests: their own processes on free ports, broken on purpose.

The shared session fixtures (tests/conftest.py) are never touched: a fault test
kills, slows and cuts off its own exchange, action server and databases, and
every process and proxy here is stopped (and every PostgreSQL schema dropped)
at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from scripts import stack, train
from tests.e2e.conftest import Chat
from tests.support.processes import PYTHON, ROOT, Service, free_port
from tests.support.prodstack import (
    create_schemas,
    drop_schemas,
    postgres_or_skip,
    rasa_server_command,
)
from tests.support.prodstack import schema_exists as schema_exists  # imported from here
from tests.support.tcp_proxy import TcpProxy

DEMO_DATA = ROOT / "data" / "demo" / "citizens.yml"


class Applications:
    """Counts applications in the exchange's database (SQLite or a PostgreSQL schema)."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        args = {"options": f"-csearch_path={schema}"} if schema else {}
        self._engine = sa.create_engine(url, future=True, connect_args=args)

    def of(self, name: str, service: str) -> list[dict[str, Any]]:
        query = sa.text(
            "select a.application_no, a.status from applications a "
            "join persons p on p.id = a.person_id where p.name = :name and a.service = :service "
            "order by a.id"
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query, {"name": name, "service": service})
            return [dict(row._mapping) for row in rows]

    def close(self) -> None:
        self._engine.dispose()


@dataclass
class FaultStack:
    """Exchange, action server and Rasa of one fault test module."""

    env: dict[str, str]
    exchange: Service
    actions: Service
    rasa: Service
    applications: Applications
    # The action server reaches the exchange through this proxy.
    exchange_proxy: TcpProxy
    proxies: list[TcpProxy] = field(default_factory=list)

    def chat(self, **kwargs: Any) -> Chat:
        return Chat(self.env["RASA_URL"], self.env["RASA_TOKEN"], **kwargs)

    def kill_actions(self) -> None:
        """SIGKILL, no goodbye: the process cannot finish what it was doing."""
        process = self.actions.process
        assert process is not None and process.poll() is None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def ensure_running(self) -> None:
        """Undo whatever a test broke, so the next test starts from a working stack."""
        for proxy in self.proxies:
            proxy.restore()
        for service in (self.exchange, self.actions):
            if service.process is None or service.process.poll() is not None:
                service.start()


def _seed(env: dict[str, str]) -> None:
    subprocess.run(
        [PYTHON, "-m", "exchange", "seed", str(DEMO_DATA)],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True, timeout=180,
    )  # fmt: skip


def _rasa(env: dict[str, str], model: Path, name: str) -> Service:
    port = int(env["RASA_PORT"])
    args = rasa_server_command(model=model, token=env["RASA_TOKEN"], port=port)
    return Service(name, args, port, env=env, health_path="/", startup_timeout=300)


@contextlib.contextmanager
def fault_stack(
    tmp: Path, name: str, *, extra: dict[str, str] | None = None,
    pg_proxy: TcpProxy | None = None, exchange_db: tuple[str, str | None] | None = None,
) -> Iterator[FaultStack]:  # fmt: skip
    """Start exchange, exchange proxy, action server and Rasa; stop them all afterwards.

    ``exchange_db`` (URL, schema) is where the test counts applications, when that
    is not the exchange's own URL (e.g. PostgreSQL directly, not through a proxy).
    """
    model = train.MODEL_FILE
    train.train()
    ports = {port_name: free_port() for port_name in stack.DEFAULT_PORTS}
    env = stack.environment({}, ports=ports, var_dir=tmp)
    env.update(extra or {})
    env["EXCHANGE_ENVIRONMENT"] = "test"
    with contextlib.ExitStack() as stop:
        _seed(env)
        exchange = Service(f"{name}-exchange", [PYTHON, "-m", "exchange", "serve"],
                           int(env["EXCHANGE_PORT"]), env=env)  # fmt: skip
        stop.enter_context(exchange)
        exchange_proxy = stop.enter_context(TcpProxy(int(env["EXCHANGE_PORT"])))
        env["EXCHANGE_URL"] = f"http://{exchange_proxy.address}"
        actions = Service(f"{name}-actions", [PYTHON, "-m", "actions"],
                          int(env["ACTIONS_PORT"]), env=env)  # fmt: skip
        stop.enter_context(actions)
        rasa = stop.enter_context(_rasa(env, model, f"{name}-rasa"))
        applications = Applications(
            *(exchange_db or (env["EXCHANGE_DATABASE_URL"], env.get("EXCHANGE_DB_SCHEMA")))
        )
        stop.callback(applications.close)
        proxies = [exchange_proxy, *([pg_proxy] if pg_proxy else [])]
        yield FaultStack(env, exchange, actions, rasa, applications, exchange_proxy, proxies)


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    """A stack on SQLite files whose exchange link and action server tests may break.

    One per module, so that only one fault stack runs at a time. Each test files for
    its own person and city: the exchange refuses a second filing of the same person
    for the same city."""
    with fault_stack(tmp_path_factory.mktemp("faults-sqlite"), "faults") as running:
        yield running


@pytest.fixture
def faults(sqlite_stack: FaultStack) -> Iterator[FaultStack]:
    """The module's SQLite stack, repaired after each test."""
    sqlite_stack.ensure_running()
    yield sqlite_stack
    sqlite_stack.ensure_running()


# PostgreSQL


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_or_skip()


@contextlib.contextmanager
def pg_schemas(url: str, *names: str) -> Iterator[None]:
    """Create the schemas, drop them (and everything in them) afterwards."""
    try:
        create_schemas(url, *names)
        yield
    finally:
        drop_schemas(url, *names)


def new_schema(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
