"""The stored conversation holds no full ID number, phone digits or names;
the conversation still gets its slots back."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_addons.redaction import redact_text
from rasa_addons.tracker_store import (
    NEWEST_EVENT_INDEX,
    EventProtector,
    RedactingSQLTrackerStore,
    TrackerStoreSettings,
    fernet_for,
)

ROOT = Path(__file__).resolve().parents[2]
ID = "110105194903120021"
SPOKEN_ID = "幺幺零幺零五 一九四九零三幺二 洞洞两幺"
READ_BACK = "我核对一下。张桂芳，身份证一一零一零五，一九四九零三一二，零零二一。对吗？"


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "bot" / "domain"))


def readable(rows: Iterable[str]) -> str:
    """Stored rows as text to search: Chinese unescaped, timestamps left out (their
    digits can hold "8001" by chance)."""
    events = [{k: v for k, v in json.loads(row).items() if k != "timestamp"} for row in rows]
    return "\n".join(json.dumps(event, ensure_ascii=False) for event in events)


def conversation(domain: Domain) -> DialogueStateTracker:
    tracker = DialogueStateTracker("conv-privacy", domain.slots)
    entity = {"entity": "id_number", "value": ID, "start": 0, "end": 18}
    for event in [
        ActionExecuted("action_listen"),
        UserUttered("我叫张桂芳", {"name": "inform", "confidence": 1.0}),
        SlotSet("person_name", "张桂芳"),
        ActionExecuted("action_listen"),
        UserUttered(SPOKEN_ID, {"name": "inform", "confidence": 1.0}, [entity]),
        SlotSet("id_number", ID),
        ActionExecuted("action_listen"),
        UserUttered(f"身份证{ID}，手机尾号八零零一", {"name": "inform", "confidence": 1.0}),
        SlotSet("phone_last4", "8001"),
        BotUttered(READ_BACK),
    ]:
        tracker.update(event)
    return tracker


async def test_stored_rows_hold_no_identity_data(tmp_path: Path, domain: Domain):
    path = tmp_path / "tracker.db"
    store = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{path}", dialect="sqlite")
    await store.save(conversation(domain))

    rows = readable(row[0] for row in sqlite3.connect(path).execute("select data from events"))
    for secret in (ID, "一一零一零五，一九四九零三一二，零零二一", "1101051949", "8001", "八零零一",
                   "张桂芳", "幺幺零幺零五 一九四九零三幺二"):  # fmt: skip
        assert secret not in rows
    assert "110105********0021" in rows  # masked, still useful to read

    restored = await store.retrieve("conv-privacy")
    assert restored.get_slot("id_number") == ID
    assert restored.get_slot("phone_last4") == "8001"
    assert restored.get_slot("person_name") == "张桂芳"


def test_protection_works_on_copies_and_changes_only_what_it_masks(domain: Domain):
    """The event dicts given are left as they are; the stored forms mask the same."""
    protector = EventProtector(fernet_for("test-secret"))
    tracker = conversation(domain)
    slots = tracker.current_slot_values()
    given = [event.as_dict() for event in tracker.events]
    before = copy.deepcopy(given)
    stored = [protector.protect(data, slots) for data in given]
    assert given == before
    assert ID in str(given) and ID not in str(stored) and "张桂芳" not in str(stored)
    user = stored[4]
    assert user["parse_data"]["entities"][0]["value"] == "110105********0021"
    assert user["parse_data"]["intent"] is given[4]["parse_data"]["intent"]  # unchanged: shared
    assert stored[0] is given[0]  # nothing to mask: the same dict


async def test_a_wrong_key_loses_the_value_not_the_conversation(tmp_path, domain, monkeypatch):
    path = tmp_path / "tracker.db"
    store = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{path}", dialect="sqlite")
    await store.save(conversation(domain))
    monkeypatch.setenv("TRACKER_SECRET", "another-secret")
    other = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{path}", dialect="sqlite")
    restored = await other.retrieve("conv-privacy")
    assert restored is not None and restored.get_slot("id_number") is None


async def test_sqlite_keeps_its_connection_and_writes_ahead(tmp_path: Path, domain: Domain):
    path = tmp_path / "tracker.db"
    store = RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{path}", dialect="sqlite")
    for _ in range(3):
        tracker = await store.get_or_create_tracker("conv-pool")
        tracker.update(UserUttered("你好", {"name": "greet", "confidence": 1.0}))
        await store.save(tracker)
    # One pooled connection served every load and save (Rasa's engine opened one each).
    assert store.engine.pool.checkedin() == 1
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    # Another reader (the PII scan, a clerk's tool) sees every committed turn.
    assert sqlite3.connect(path).execute("select count(*) from events").fetchone()[0] >= 3
    restored = await store.retrieve("conv-pool")
    assert sum(isinstance(e, UserUttered) for e in restored.events) == 3


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.delenv("TRACKER_SECRET", raising=False)
    with pytest.raises(ValueError):
        TrackerStoreSettings()


def test_redact_text_spoken_and_written():
    assert redact_text(SPOKEN_ID) == "110105********0021"
    assert redact_text("尾号八零零一", phone_last4=["8001"]) == "尾号****"
    assert redact_text("我叫张桂芳", names=["张桂芳"]) == "我叫张**"
    assert redact_text("1949年出生") == "1949年出生"


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_schema(monkeypatch: pytest.MonkeyPatch):
    """A private schema in the production profile's PostgreSQL, dropped afterwards."""
    import uuid

    psycopg2 = pytest.importorskip("psycopg2")
    try:
        connection = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {error}")
    connection.autocommit = True
    schema = f"tracker_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    monkeypatch.setenv("POSTGRESQL_SCHEMA", schema)
    yield schema
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
    connection.close()


@pytest.mark.postgres
async def test_postgresql_rows_hold_no_identity_data(postgres_schema: str, domain: Domain):
    import psycopg2

    store = RedactingSQLTrackerStore(domain=domain, host=POSTGRES_URL, dialect="postgresql")
    await store.save(conversation(domain))
    with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT data FROM {postgres_schema}.events")
        rows = readable(row[0] for row in cursor.fetchall())
    assert rows and ID not in rows and "张桂芳" not in rows
    restored = await store.retrieve("conv-privacy")
    assert restored.get_slot("id_number") == ID
    assert store.engine.pool._pre_ping  # a restarted database costs no turn
    store.engine.dispose()


def test_bot_text_keeps_opening_hours_and_hall_phones_but_not_the_id_read_back():
    hours = "周一至周五 9:00-12:00，13:30-17:00，电话028-86012345。"
    assert redact_text(hours, partial_numbers=False) == hours
    read_back = "您的身份证号是幺幺零幺零五，幺九四九零三幺二，零零二幺，对吗？"
    masked = "您的身份证号是110105********0021，对吗？"
    assert redact_text(read_back, partial_numbers=False) == masked
    assert redact_text("手机13800138001", partial_numbers=False) == "手机****"
    # A person reading out part of an ID number is still hidden.
    assert redact_text("我的号是幺幺零幺零五幺九四九") == "我的号是11********"


def test_rasa_log_lines_lose_names_learnt_from_entities_and_slots():
    from rasa_addons.redaction import LogRedactor

    redactor = LogRedactor()
    line = (
        "Received user message '\\u6211\\u53eb\\u5f20\\u6842\\u82b3' with intent 'inform' and "
        "entities '[{'entity': 'person_name', 'start': 2, 'end': 5, 'value': '张桂芳'}]'"
    )
    assert redactor(line) == (
        "Received user message '我叫张**' with intent 'inform' and "
        "entities '[{'entity': 'person_name', 'start': 2, 'end': 5, 'value': '张**'}]'"
    )
    # Learnt once, masked wherever it appears later, escaped or not.
    assert redactor("user text: \\u6211\\u53eb\\u5f20\\u6842\\u82b3 |") == "user text: 我叫张** |"
    proxy = redactor("SlotSet(key: proxy_name, value: 张小红)")
    assert proxy == "SlotSet(key: proxy_name, value: 张**)"
    assert redactor("id_number: 110105194903120021") == "id_number: 110105********0021"
    # Half of an escaped emoji stays escaped (it could not be written decoded).
    assert redactor("\\ud83d\\ude00") == "\\ud83d\\ude00"


def _plan(cursor, sql: str) -> str:
    cursor.execute(sql)
    return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.postgres
async def test_postgresql_finds_the_newest_event_by_index_however_large_the_table(
    postgres_schema: str, domain: Domain
):
    """A new conversation's newest event must not cost a walk through all events."""
    import psycopg2

    stores = [
        RedactingSQLTrackerStore(domain=domain, host=POSTGRES_URL, dialect="postgresql")
        for _ in range(2)  # a second replica starting finds the index there
    ]
    await stores[0].save(conversation(domain))
    with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {postgres_schema}")
        cursor.execute(
            "INSERT INTO events (sender_id, type_name, data) "
            "SELECT 'other-' || (n % 5000), 'action', '{}' FROM generate_series(1, 60000) n"
        )
        cursor.execute("ANALYZE events")
        plan = _plan(cursor, "EXPLAIN SELECT max(id) FROM events WHERE sender_id = 'brand-new'")
    assert NEWEST_EVENT_INDEX in plan, plan
    with stores[1].engine.connect() as connection:
        assert stores[1]._newest_id(connection, "brand-new") is None
        assert stores[1]._newest_id(connection, "conv-privacy") is not None


async def test_sqlite_finds_the_newest_event_by_index(tmp_path: Path, domain: Domain):
    """SQLite needs no second index: its sender_id index holds the row id (= id)."""
    path = tmp_path / "tracker.db"
    RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{path}", dialect="sqlite")
    database = sqlite3.connect(path)
    plan = _plan(
        database.cursor(), "EXPLAIN QUERY PLAN SELECT max(id) FROM events WHERE sender_id = 'x'"
    )
    assert "SEARCH events USING COVERING INDEX ix_events_sender_id " in plan, plan
