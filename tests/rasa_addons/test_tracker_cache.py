"""Each Rasa process keeps the trackers it served last; the database stays the truth.

The next turn of a conversation gets the kept tracker only if nobody else wrote to
the conversation since (another replica, a failed turn), and the kept tracker is
exactly what loading it from the database would give."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

from rasa_addons.tracker_store import RedactingSQLTrackerStore
from tests.rasa_addons.test_tracker_store import POSTGRES_URL, domain, postgres_schema  # noqa: F401

ID = "110105194903120021"


def sqlite_store(path: Path, domain: Domain) -> RedactingSQLTrackerStore:  # noqa: F811
    return RedactingSQLTrackerStore(domain=domain, host=f"sqlite:///{path}", dialect="sqlite")


def take_turn(tracker: DialogueStateTracker, text: str, answer: str = "好的") -> None:
    for e in [ActionExecuted("action_listen"),
              UserUttered(text, {"name": "inform", "confidence": 1.0}),
              ActionExecuted("utter_ok"), BotUttered(answer)]:  # fmt: skip
        tracker.update(e)


async def conversation(
    store: RedactingSQLTrackerStore, sender: str, *texts: str
) -> DialogueStateTracker:
    """A conversation with one saved turn per text, as the store hands it out after."""
    tracker = await store.get_or_create_tracker(sender)
    for text in texts:
        take_turn(tracker, text)
        await store.save(tracker)
        tracker = await store.retrieve(sender)
    return tracker


def as_stored(tracker: DialogueStateTracker) -> list[dict]:
    return [e.as_dict() for e in tracker.events]


async def in_database(store: RedactingSQLTrackerStore, sender: str) -> list[dict]:
    """What a process that kept nothing loads (a replica just started)."""
    return as_stored(await store._retrieve(sender, fetch_events_from_all_sessions=False))


class Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, _conn, _cursor, statement: str, *_args) -> None:
        self.sql.append(statement.lower())


@pytest.fixture
def statements() -> Iterator[Statements]:
    from sqlalchemy.engine import Engine

    seen = Statements()
    event.listen(Engine, "before_cursor_execute", seen)
    yield seen
    event.remove(Engine, "before_cursor_execute", seen)


async def test_the_next_turn_gets_the_kept_tracker(tmp_path: Path, domain: Domain, statements):  # noqa: F811
    store = sqlite_store(tmp_path / "t.db", domain)
    tracker = await store.get_or_create_tracker("c1")
    take_turn(tracker, "你好")
    await store.save(tracker)
    loaded = await store.retrieve("c1")
    assert loaded is tracker  # a new conversation is kept from its first save
    take_turn(loaded, "我想查养老金")
    await store.save(loaded)

    statements.sql.clear()
    kept = await store.retrieve("c1")
    assert kept is loaded
    take_turn(kept, "成都市")
    await store.save(kept)
    # Indexed look-ups of the newest row only: one on the way in; on the way out one
    # before and one after the insert. No events loaded, none counted.
    loads_or_counts = [s for s in statements.sql if "count(" in s or "events.data" in s]
    assert loads_or_counts == []
    assert sum(sql.startswith("select max(events.id)") for sql in statements.sql) == 3
    assert sum(sql.startswith("insert") for sql in statements.sql) == 1

    assert await in_database(store, "c1") == as_stored(kept)
    assert sum(isinstance(e, UserUttered) for e in kept.events) == 3


async def test_another_replica_writing_makes_it_load_again(tmp_path: Path, domain: Domain):  # noqa: F811
    a, b = sqlite_store(tmp_path / "t.db", domain), sqlite_store(tmp_path / "t.db", domain)
    tracker = await conversation(a, "c2", "你好", "我想办社保转移")
    on_b = await b.retrieve("c2")
    take_turn(on_b, "从成都转到重庆")
    await b.save(on_b)

    on_a = await a.retrieve("c2")
    assert on_a is not tracker
    assert as_stored(on_a) == as_stored(on_b)
    take_turn(on_a, "对")
    await a.save(on_a)
    texts = [e["text"] for e in await in_database(b, "c2") if e["event"] == "user"]
    assert texts == ["你好", "我想办社保转移", "从成都转到重庆", "对"]  # none lost, none twice


async def test_a_first_turn_is_kept_from_its_session_start(tmp_path: Path, domain: Domain):  # noqa: F811
    store = sqlite_store(tmp_path / "t.db", domain)
    # What Rasa's processor does on a conversation's first message.
    tracker = await store.get_or_create_tracker("c9", append_action_listen=False)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    take_turn(tracker, "你好")
    await store.save(tracker)

    kept = await store.retrieve("c9")
    assert isinstance(kept.events[0], SessionStarted)
    assert as_stored(kept) == await in_database(store, "c9")
    take_turn(kept, "谢谢")
    await store.save(kept)
    assert await store.retrieve("c9") is kept
    assert as_stored(kept) == await in_database(store, "c9")


async def test_a_kept_tracker_is_lent_to_one_caller(tmp_path: Path, domain: Domain):  # noqa: F811
    store = sqlite_store(tmp_path / "t.db", domain)
    first = await conversation(store, "c3", "你好")
    second = await store.retrieve("c3")  # e.g. the HTTP API reading it mid-turn
    assert second is not first and as_stored(second) == as_stored(first)


async def test_a_turn_that_failed_halfway_is_not_kept(tmp_path: Path, domain: Domain):  # noqa: F811
    store = sqlite_store(tmp_path / "t.db", domain)
    failed = await conversation(store, "c4", "你好", "我想查养老金")
    failed.update(UserUttered("没存下的话", {"name": "inform", "confidence": 1.0}))
    # The turn raised before saving; the same process answers the next message.
    store.cache._kept["c4"].lent = False
    again = await store.retrieve("c4")
    assert again is not failed
    assert as_stored(again) == await in_database(store, "c4")
    assert "没存下的话" not in str(as_stored(again))


async def test_the_kept_tracker_holds_what_the_database_holds(tmp_path: Path, domain: Domain):  # noqa: F811
    store = sqlite_store(tmp_path / "t.db", domain)
    tracker = await conversation(store, "c5", "你好")
    take_turn(tracker, f"身份证{ID}", answer=f"我核对一下。身份证{ID}，对吗？")
    tracker.update(SlotSet("id_number", ID))
    await store.save(tracker)

    kept = await store.retrieve("c5")
    assert kept is tracker
    assert as_stored(kept) == await in_database(store, "c5")
    said = [e for e in as_stored(kept) if e["event"] in ("user", "bot")]
    assert ID not in str(said)  # the action server sees past turns masked, as before
    assert kept.latest_message.text == "身份证110105********0021"
    assert kept.latest_bot_utterance.text == "我核对一下。身份证110105********0021，对吗？"
    assert kept.get_slot("id_number") == ID  # the slot itself is usable, as after a load


async def test_the_cache_has_a_size(tmp_path: Path, domain: Domain, monkeypatch):  # noqa: F811
    for size, kept in ((1, 1), (0, 0)):
        monkeypatch.setenv("TRACKER_CACHE_SIZE", str(size))
        store = sqlite_store(tmp_path / f"t{size}.db", domain)
        for sender in ("c6", "c7"):
            tracker = await conversation(store, sender, "你好", "谢谢")
            assert await in_database(store, sender) == as_stored(tracker)
        assert len(store.cache) == kept


@pytest.mark.postgres
async def test_replicas_on_postgresql_take_turns(postgres_schema: str, domain: Domain):  # noqa: F811
    replicas = [RedactingSQLTrackerStore(domain=domain, host=POSTGRES_URL, dialect="postgresql")
                for _ in range(2)]  # fmt: skip
    tracker = await replicas[0].get_or_create_tracker("c8")
    take_turn(tracker, "turn 0")
    await replicas[0].save(tracker)
    for n in range(1, 7):  # a round-robin balancer: turns alternate, with a repeat
        store = replicas[(n // 2) % 2]
        tracker = await store.retrieve("c8")
        take_turn(tracker, f"turn {n}")
        await store.save(tracker)
    texts = [e["text"] for e in await in_database(replicas[1], "c8") if e["event"] == "user"]
    assert texts == [f"turn {n}" for n in range(7)]
    for store in replicas:
        store.engine.dispose()
