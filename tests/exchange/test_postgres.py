"""The production profile: the exchange on PostgreSQL, as real server processes.

The API test modules already run on PostgreSQL through the `backend` fixture; here
are the cases that need a server process: concurrency and per-run schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from exchange.core.db import create_db_engine, init_db
from exchange.models import Base
from tests.exchange.concurrency import concurrent_duplicates_make_one_application
from tests.exchange.conftest import start_exchange
from tests.exchange.support import new_schema_name, settings_for
from tests.support.processes import Service
from tests.support.prodstack import drop_schemas, postgres_or_skip

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_or_skip()


@pytest.fixture(scope="module")
def pg_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    schema = new_schema_name()
    tmp = tmp_path_factory.mktemp("exchange-postgres")
    env = {"EXCHANGE_DATABASE_URL": pg_url, "EXCHANGE_DB_SCHEMA": schema}
    service = start_exchange(tmp, env)
    try:
        yield service, settings_for(pg_url, schema)
    finally:
        service.stop()
        drop_schemas(pg_url, schema)


def test_concurrent_duplicates_on_postgresql(pg_server: tuple[Service, object]):
    service, settings = pg_server
    concurrent_duplicates_make_one_application(service, settings)


def tables_in(url: str, schema: str) -> set[str]:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def test_each_run_gets_its_own_schema_and_leaves_nothing(pg_url: str, tmp_path: Path):
    first, second = new_schema_name(), new_schema_name()
    try:
        for schema in (first, second):
            settings = settings_for(pg_url, schema)
            engine = create_db_engine(settings)
            init_db(engine, settings)
            engine.dispose()
        expected = {table.name for table in Base.metadata.sorted_tables}
        assert tables_in(pg_url, first) == tables_in(pg_url, second) == expected
    finally:
        drop_schemas(pg_url, first, second)
    assert tables_in(pg_url, first) == set()
