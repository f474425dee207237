"""`python -m exchange seed | serve | audit verify` as the Makefile and Procfile run them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from exchange.client import SigningAuth
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from exchange.core.db import create_db_engine, init_db, session_factory
from exchange.models import AuditEntry, Person
from exchange.seed import SeedError, load, seed
from tests.exchange.support import DEMO_FILE, START, settings_for
from tests.support.processes import PYTHON, ROOT, Service, free_port


def exchange_cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXCHANGE_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [PYTHON, "-m", "exchange", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_serve_creates_the_database_and_seed_if_empty_fills_it_once(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'var' / 'exchange.db'}"  # var/ does not exist yet
    port = free_port()
    env = {"EXCHANGE_DATABASE_URL": url, "EXCHANGE_PORT": str(port), "PYTHONPATH": str(ROOT)}
    with Service("exchange-cli", [PYTHON, "-m", "exchange", "serve"], port, env=env) as service:
        assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
        first = exchange_cli("seed", str(DEMO_FILE), "--if-empty", database_url=url)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "seeded 7 citizens and 28 service halls"
        again = exchange_cli("seed", str(DEMO_FILE), "--if-empty", database_url=url)
        assert "nothing to do" in again.stdout
        # The running server sees the seeded register.
        with httpx.Client(
            base_url=service.url, auth=SigningAuth(DEV_CLIENT_ID, DEV_CLIENT_SECRET)
        ) as client:
            halls = client.get("/v1/outlets", headers={"X-Purpose": "service_hall_lookup"})
        assert len(halls.json()) == 28
    assert "110105194903120021" not in service.tail(500)  # no personal data in the log


def test_a_bad_file_changes_nothing(tmp_path: Path):
    data = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    data["citizens"][3]["id_number"] = "420106195006060019"  # wrong check digit
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    result = exchange_cli("seed", str(bad), database_url=url)
    assert result.returncode == 2
    assert "citizens[3].id_number" in result.stderr
    engine = create_db_engine(settings_for(url))
    with session_factory(engine)() as session:
        assert session.execute(select(func.count()).select_from(Person)).scalar_one() == 0
    engine.dispose()


@pytest.fixture
def database(tmp_path: Path):
    settings = settings_for(f"sqlite:///{tmp_path / 'exchange.db'}")
    engine = create_db_engine(settings)
    init_db(engine, settings)
    yield session_factory(engine)
    engine.dispose()


def test_seeding_again_updates_in_place_and_keeps_person_refs(database):
    data = load(DEMO_FILE)
    with database() as session:
        seed(session, data, now=START)
        refs = dict(session.execute(select(Person.name, Person.person_ref)).all())
    data["citizens"][0]["phone"] = "13900139001"
    with database() as session:
        report = seed(session, data, now=START + dt.timedelta(days=1))
        assert report.citizens == 7
        assert dict(session.execute(select(Person.name, Person.person_ref)).all()) == refs
        person = session.execute(select(Person).where(Person.name == "张桂芳")).scalar_one()
        assert person.phone == "13900139001"
        assert len(person.contributions) == 2  # replaced, not doubled
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 2


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["citizens"][0].update(gender="M"), "citizens[0].gender"),
        (lambda d: d["citizens"][1]["insured"].update(province="四川"), "citizens[1].insured"),
        (lambda d: d["outlets"][2].update(services=["haircut"]), "outlets[2].services"),
        (lambda d: d["citizens"][3]["applications"][0].update(application_no="YB20250101"),
         "application_no"),
        (lambda d: d["citizens"][2]["pension"].update(monthly_amount="12.345"), "monthly_amount"),
    ],
)  # fmt: skip
def test_seed_errors_say_where(database, change, where: str):
    data = load(DEMO_FILE)
    change(data)
    with database() as session, pytest.raises(SeedError, match=where.replace("[", r"\[")):
        seed(session, data, now=START)
    with database() as session:
        assert session.execute(select(Person.id)).first() is None


def test_verify_on_a_missing_database_says_so_and_creates_nothing(tmp_path: Path):
    result = exchange_cli(
        "audit", "verify", database_url=f"sqlite:///{tmp_path / 'none' / 'exchange.db'}"
    )
    assert result.returncode == 2
    assert "no exchange database" in result.stderr
    assert not (tmp_path / "none").exists()


def test_verify_on_a_database_without_tables(tmp_path: Path):
    (tmp_path / "empty.db").touch()
    result = exchange_cli("audit", "verify", database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2
    assert "cannot read the audit log (OperationalError)" in result.stderr


def test_invalid_settings_are_reported_without_a_traceback(tmp_path: Path):
    env = {**os.environ, "EXCHANGE_CLIENTS": "{not json", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [PYTHON, "-m", "exchange", "audit", "verify"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "invalid EXCHANGE_* settings" in result.stderr
    assert "Traceback" not in result.stderr
