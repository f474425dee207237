"""Fixtures: an in-process exchange on a fresh, seeded database per test.

`backend` runs every API test on SQLite and, when the server is reachable, on
PostgreSQL (each test in its own schema, dropped afterwards). `exchange_process`
is a real `python -m exchange serve` for tests about processes and concurrency.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from exchange.core.config import Settings
from exchange.core.db import init_db
from exchange.main import attach, create_app
from exchange.models import Person
from exchange.seed import load, seed
from tests.exchange.support import (
    DEMO_FILE,
    START,
    Api,
    FakeClock,
    clone_schema,
    drop_schema,
    new_schema_name,
    postgres,
    settings_for,
)
from tests.support.processes import PYTHON, ROOT, Service, free_port


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and postgres()[0] is None:
        pytest.skip(postgres()[1])
    return request.param


def _seeded(settings: Settings) -> None:
    app = create_app(settings, clock=FakeClock())
    try:
        init_db(app.state.engine, settings)
        with app.state.sessions() as session:
            seed(session, load(DEMO_FILE), now=START)
    finally:
        app.state.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo register seeded once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "exchange.db"
    _seeded(settings_for(f"sqlite:///{path}"))  # disposing checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    url, schema = postgres()[0], new_schema_name()
    _seeded(settings_for(url, schema))
    yield schema
    drop_schema(url, schema)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """A fresh copy of the seeded demo register, private to the test."""
    if backend == "sqlite":
        path = tmp_path / "exchange.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield settings_for(f"sqlite:///{path}")
        return
    url, schema = postgres()[0], new_schema_name()
    clone_schema(url, request.getfixturevalue("postgres_template"), schema)
    yield settings_for(url, schema)
    drop_schema(url, schema)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def app_shell() -> FastAPI:
    """One app for the whole run; each test attaches it to its own database and clock."""
    app = create_app(settings_for("sqlite://"))
    app.state.engine.dispose()
    return app


@pytest.fixture
def app(app_shell: FastAPI, settings: Settings, clock: FakeClock) -> Iterator[FastAPI]:
    attach(app_shell, settings, clock=clock)
    yield app_shell
    app_shell.dependency_overrides.clear()
    app_shell.state.engine.dispose()


@pytest.fixture
def api(app: FastAPI, clock: FakeClock) -> Iterator[Api]:
    with TestClient(app) as client:
        yield Api(client, clock)


@pytest.fixture
def refs(app: FastAPI) -> dict[str, str]:
    """Demo name -> person_ref, read from the database (tests of verify use the API)."""
    with app.state.sessions() as session:
        return dict(session.execute(select(Person.name, Person.person_ref)).all())


def start_exchange(tmp: Path, env: dict[str, str]) -> Service:
    """Seed the demo register, then serve it from a real process on a free port."""
    port = free_port()
    env = {"EXCHANGE_PORT": str(port), "EXCHANGE_ENVIRONMENT": "test", **env}
    subprocess.run(
        [PYTHON, "-m", "exchange", "seed", str(DEMO_FILE)],
        cwd=ROOT, env={**_base_env(), **env}, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    service = Service(
        f"exchange-{tmp.name}", [PYTHON, "-m", "exchange", "serve"], port,
        env={**_base_env(), **env},
    )  # fmt: skip
    return service.start()


def _base_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="session")
def exchange_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    """A real server on a temporary SQLite file: (service, database URL)."""
    tmp = tmp_path_factory.mktemp("exchange-sqlite")
    url = f"sqlite:///{tmp / 'exchange.db'}"
    service = start_exchange(tmp, {"EXCHANGE_DATABASE_URL": url})
    try:
        yield service, url
    finally:
        service.stop()
