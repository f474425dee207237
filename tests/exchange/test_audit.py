"""The hash-chained audit log, its verifier, and the citizen's access log."""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import uuid

from fastapi import FastAPI
from sqlalchemy import delete, select, text, update

from common.idcard import mask
from exchange.core.config import Settings
from exchange.core.security import Caller
from exchange.models import AuditEntry
from exchange.services import audit
from tests.exchange.support import DEMO, Api, FakeClock
from tests.support.processes import PYTHON, ROOT


def entries(app: FastAPI) -> list[AuditEntry]:
    with app.state.sessions() as session:
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def some_traffic(api: Api, refs: dict[str, str]) -> None:
    api.verify("陈德明")
    api.get(f"/v1/persons/{refs['陈德明']}/social-insurance", purpose="social_insurance_transfer")
    api.post(
        "/v1/social-insurance/transfers",
        {"person_ref": refs["陈德明"], "from_province": "四川省", "from_city": "成都市",
         "to_province": "重庆市", "to_city": "重庆市"},
        purpose="social_insurance_transfer",
    )  # fmt: skip
    api.get("/v1/outlets", purpose="service_hall_lookup", params={"city": "重庆"})


def test_every_read_and_write_is_recorded(api: Api, app: FastAPI, refs):
    before = len(entries(app))
    some_traffic(api, refs)
    new = entries(app)[before:]
    assert [e.action for e in new] == [
        "identity.verify", "social_insurance.read", "transfer.create", "outlets.search",
    ]  # fmt: skip
    masked = mask(DEMO["陈德明"][0])
    assert [e.citizen for e in new] == [masked, masked, masked, None]
    assert {e.client_id for e in new} == {"assistant"}
    assert [e.purpose for e in new] == [
        "identity_verification", "social_insurance_transfer", "social_insurance_transfer",
        "service_hall_lookup",
    ]  # fmt: skip
    assert new[0].at == "2025-06-02T02:00:00.001000+00:00"
    assert new[2].resource.startswith("applications/SB")
    assert all(len(e.request_id) == 32 for e in new)


def test_rejected_requests_leave_no_entry_but_failed_verifications_do(api: Api, app, refs):
    before = len(entries(app))
    api.get("/v1/persons/nobody-here-123/id-card", purpose="id_card_renewal")  # 404
    api.verify("陈德明", phone_last4="0000")  # a failed attempt is a security event
    new = entries(app)[before:]
    assert [(e.action, e.outcome) for e in new] == [("identity.verify", "failed")]


def test_no_full_id_number_is_ever_stored_in_the_log(api: Api, app: FastAPI, refs):
    some_traffic(api, refs)
    api.verify("李建国", phone_last4="0000")
    stored = " ".join(f"{e.citizen} {e.resource}" for e in entries(app))
    for id_number, _ in DEMO.values():
        assert id_number not in stored


def test_chain_links_every_entry_to_the_one_before(api: Api, app: FastAPI, refs):
    some_traffic(api, refs)
    chain = entries(app)
    assert chain[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(chain):
        assert after.prev_hash == before.hash
        assert after.seq == before.seq + 1
    with app.state.sessions() as session:
        assert audit.verify_chain(session).ok


def run_verify(settings: Settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXCHANGE_DATABASE_URL": settings.database_url, "PYTHONPATH": str(ROOT)}
    if settings.db_schema:
        env["EXCHANGE_DB_SCHEMA"] = settings.db_schema
    return subprocess.run(
        [PYTHON, "-m", "exchange", "audit", "verify"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_names_the_tampered_entry(api: Api, app: FastAPI, settings: Settings, refs):
    some_traffic(api, refs)
    intact = run_verify(settings)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.strip() == f"audit chain OK: {len(entries(app))} entries"

    victim = entries(app)[3]
    with app.state.sessions() as session:  # someone rewrites why the data was read
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == victim.seq).values(purpose="statistics")
        )
        session.commit()
    broken = run_verify(settings)
    assert broken.returncode == 1
    assert f"BROKEN at entry #{victim.seq}" in broken.stdout
    assert "altered" in broken.stdout


def test_a_removed_entry_is_found(api: Api, app: FastAPI, refs):
    some_traffic(api, refs)
    with app.state.sessions() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
        session.commit()
        report = audit.verify_chain(session)
    assert (report.ok, report.broken_seq) == (False, 3)


def test_removing_the_newest_entries_is_found(api: Api, app: FastAPI, refs):
    some_traffic(api, refs)
    last = entries(app)[-1].seq
    with app.state.sessions() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= last - 1))
        session.commit()
        report = audit.verify_chain(session)
    assert (report.ok, report.broken_seq) == (False, last - 1)
    assert "removed" in report.reason


def test_rehashing_an_altered_entry_still_breaks_the_next_link(api: Api, app, refs):
    some_traffic(api, refs)
    victim = entries(app)[2]
    fields = {name: getattr(victim, name) for name in audit.HASHED_FIELDS}
    fields["client_id"] = "someone-else"
    with app.state.sessions() as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == victim.seq)
            .values(client_id="someone-else", hash=audit.entry_hash(fields, victim.prev_hash))
        )
        session.commit()
        report = audit.verify_chain(session)
    assert report.broken_seq == victim.seq + 1


def test_concurrent_appends_keep_one_chain(app: FastAPI, clock: FakeClock):
    """Appends from many threads (each its own connection) never fork the chain."""
    before = len(entries(app))
    errors: list[BaseException] = []

    def append_some() -> None:
        try:
            for _ in range(5):
                with app.state.sessions() as session:
                    caller = Caller("assistant", "助手", "service_hall_lookup", uuid.uuid4().hex)
                    audit.record(
                        session=session, caller=caller, now=clock(), action="outlets.search",
                        resource="outlets",
                    )  # fmt: skip
                    session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=append_some) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(entries(app)) == before + 40
    with app.state.sessions() as session:
        assert audit.verify_chain(session).ok


def test_access_log_shows_who_read_my_data_in_plain_words(api: Api, app: FastAPI, refs):
    some_traffic(api, refs)
    api.verify("张桂芳")  # someone else's data: not in 陈德明's log
    response = api.get(f"/v1/persons/{refs['陈德明']}/access-log", purpose="access_log_review")
    assert response.status_code == 200, response.text
    log = response.json()["entries"]
    assert [entry["action"] for entry in log] == [
        "access_log.read", "transfer.create", "social_insurance.read", "identity.verify",
    ]  # fmt: skip
    assert log[1] == {
        "at": "2025-06-02T10:00:00.003000+08:00",
        "client_id": "assistant",
        "client": "政务服务智能助手",
        "purpose": "social_insurance_transfer",
        "purpose_text": "办理社保转移",
        "action": "transfer.create",
        "action_text": "提交了您的社保转移申请",
        "outcome": "ok",
    }


def test_access_log_limit_and_purpose(api: Api, refs):
    path = f"/v1/persons/{refs['陈德明']}/access-log"
    for _ in range(3):
        api.verify("陈德明")
    response = api.get(path, purpose="access_log_review", params={"limit": 2})
    assert len(response.json()["entries"]) == 2
    assert api.get(path, purpose="application_status").status_code == 403


def test_schema_has_no_unmasked_ids_even_in_raw_sql(api: Api, app: FastAPI, refs):
    some_traffic(api, refs)
    with app.state.engine.connect() as connection:
        citizens = connection.execute(text("SELECT citizen FROM audit_log")).scalars().all()
    assert all(c is None or c.count("*") == 8 for c in citizens)
