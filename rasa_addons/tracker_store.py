"""A SQL tracker store that keeps ID numbers, phone digits and names out of the database.

Rasa's ``SQLTrackerStore`` (SQLite by default, PostgreSQL when configured)
stores every event as JSON. This subclass changes two things on the way in:

* text people typed or said, and the bot's own text, is masked: ID numbers
  (written or spoken) keep their first 6 and last 4 characters, phone digits
  and the names given in the conversation are hidden (``redaction.redact_text``);
  the NLU entities of those kinds are masked the same way;
* the slots that hold identity data (``person_name``, ``id_number``,
  ``phone_last4``...) are sealed with a key (Fernet, AES + HMAC), because the
  conversation still needs them on the next turn. They are opened again when
  the tracker is read back, so the actions see the real values and the rows in
  the database hold none of them.

Use it in bot/endpoints.yml:

    tracker_store:
      type: rasa_addons.tracker_store.RedactingSQLTrackerStore
      dialect: ${TRACKER_DIALECT}
      url: ${TRACKER_URL}

The key comes from ``TRACKER_SECRET``; the development default is refused when
``ENV=production``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseSettings, Field, root_validator, validator
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import Table, bindparam, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from common import idcard
from rasa_addons.redaction import protect_logs, redact_text

logger = logging.getLogger(__name__)

DEV_TRACKER_SECRET = "dev-only-tracker-secret-change-me"  # noqa: S105 - documented dev default
# Slots whose values are sealed in the database.
SEALED_SLOTS = frozenset(
    {"person_name", "id_number", "phone_last4", "id_number_head", "proxy_name", "mail_address"}
)
# Entities whose values are masked in stored NLU results.
MASKED_ENTITIES = frozenset({"id_number", "phone_last4", "person_name"})
SEAL_KEY = "sealed"
# The newest event of a conversation, straight from an index (see newest_event_index).
NEWEST_EVENT_INDEX = "ix_events_sender_id_id"
# Seconds a SQLite writer waits for another one (a second process on the same file).
SQLITE_BUSY_SECONDS = 30


class TrackerStoreSettings(BaseSettings):
    # development | test | production; production refuses the development secret.
    environment: Literal["development", "test", "production"] = Field("development", env="ENV")
    tracker_secret: str = Field(DEV_TRACKER_SECRET, env="TRACKER_SECRET")
    # Conversations each Rasa process keeps in memory between turns (0: none).
    tracker_cache_size: int = Field(500, ge=0, env="TRACKER_CACHE_SIZE")

    class Config:
        env_file = None

    @validator("environment", pre=True)
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @root_validator(skip_on_failure=True)
    def _no_dev_secret_in_production(cls, values: dict) -> dict:
        if values.get("environment") == "production" and values.get("tracker_secret") in (
            "",
            DEV_TRACKER_SECRET,
        ):
            raise ValueError(
                "ENV=production refuses the development defaults: "
                "set TRACKER_SECRET to your own value."
            )
        return values


def fernet_for(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest()))


def _masked(entity: Any) -> Any:
    """An NLU entity as stored: personal values masked, in a copy."""
    if not isinstance(entity, dict):
        return entity
    if entity.get("entity") == "id_number":
        return {**entity, "value": idcard.mask(str(entity.get("value", "")))}
    if entity.get("entity") in MASKED_ENTITIES:
        return {**entity, "value": "***"}
    return entity


class EventProtector:
    """Turns event dicts into their stored form and back."""

    def __init__(self, fernet: Fernet) -> None:
        self._fernet = fernet

    def protect(self, data: dict[str, Any], slots: dict[str, Any]) -> dict[str, Any]:
        """The stored form of one event dict; ``data`` itself is left as it is.

        Only what is changed is copied (the dicts on the way to a changed value):
        the rest, such as a message's intent ranking, is shared with ``data`` and
        only serialised. A deep copy of every event took a fiftieth of the Rasa
        server's time under load.
        """
        kind = data.get("event")
        if kind == "slot" and data.get("name") in SEALED_SLOTS and data.get("value") is not None:
            token = self._fernet.encrypt(json.dumps(data["value"]).encode("utf-8"))
            return {**data, "value": {SEAL_KEY: token.decode("ascii")}}
        if kind not in ("user", "bot"):
            return data
        phones = [str(slots.get("phone_last4") or "")]
        names = [str(slots.get(n) or "") for n in ("person_name", "proxy_name")]
        data = dict(data)
        if isinstance(data.get("text"), str):
            data["text"] = redact_text(
                data["text"], phone_last4=phones, names=names, partial_numbers=kind == "user"
            )
        if isinstance(data.get("parse_data"), dict):
            parse = data["parse_data"] = dict(data["parse_data"])
            if isinstance(parse.get("text"), str):
                parse["text"] = redact_text(parse["text"], phone_last4=phones, names=names)
            if isinstance(parse.get("entities"), list):
                parse["entities"] = [_masked(entity) for entity in parse["entities"]]
        return data

    def restore(self, data: dict[str, Any]) -> dict[str, Any]:
        value = data.get("value")
        if data.get("event") == "slot" and isinstance(value, dict) and set(value) == {SEAL_KEY}:
            try:
                data = {
                    **data,
                    "value": json.loads(self._fernet.decrypt(value[SEAL_KEY].encode("ascii"))),
                }
            except (InvalidToken, ValueError):
                # Sealed with another key: the value is gone, the conversation goes on without it.
                logger.warning("a sealed slot could not be opened (TRACKER_SECRET changed?)")
                data = {**data, "value": None}
        return data


def sqlite_engine(url: URL) -> Engine:
    """Rasa's SQLite engine opens a new connection for every load and save (NullPool)
    and commits in rollback-journal mode: two fsyncs per turn. Pooled connections in
    WAL mode with synchronous=NORMAL take a third less time per turn (5.2 → 3.4 ms
    to load and save a conversation here). A commit then survives a crash of Rasa;
    only a power cut may lose the last turns of the conversations (never an
    application: those are in the exchange)."""
    engine = create_engine(
        url,
        poolclass=QueuePool,
        # Rasa's event loop and its thread pool may both use the store.
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass
class _Kept:
    """A conversation this process loaded or saved, as the database held it then."""

    tracker: DialogueStateTracker
    newest_id: int | None  # the sender's newest event row when it was loaded or saved
    stored: int  # how many of ``tracker.events`` are in the database
    lent: bool  # handed out by ``retrieve`` and not saved back yet


class TrackerCache:
    """The trackers of the conversations this process served last, newest last.

    Rasa loads a conversation from the database at every turn, replays all its
    events into a new tracker, and before saving counts the stored events again
    to know which are new. A conversation usually comes back to the same process,
    so the tracker saved at the end of one turn is kept and handed out at the
    next, if the sender's newest event row is still the one this process wrote:
    another replica (or a clerk's tool) that added events makes it load again.
    A kept tracker is lent to one caller at a time; a second caller (the HTTP
    API reading a tracker mid-turn) loads its own copy from the database.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def lend(self, sender_id: str, newest_id: int | None) -> DialogueStateTracker | None:
        kept = self._kept.get(sender_id)
        if kept is None or kept.lent or kept.newest_id != newest_id:
            return None
        if len(kept.tracker.events) != kept.stored:
            # Changed after it was saved (a turn that failed half-way): not what is stored.
            del self._kept[sender_id]
            return None
        kept.lent = True
        self._kept.move_to_end(sender_id)
        return kept.tracker

    def loaded(self, tracker: DialogueStateTracker, newest_id: int | None) -> None:
        self._keep(_Kept(tracker, newest_id, len(tracker.events), lent=True))

    def unsaved(self, tracker: DialogueStateTracker, newest_id: int | None) -> int | None:
        """How many of the tracker's events are stored, if this is the kept tracker and
        nobody else wrote to the conversation since; otherwise None."""
        kept = self._kept.get(tracker.sender_id)
        if (
            kept is None
            or kept.tracker is not tracker
            or kept.newest_id != newest_id
            or len(tracker.events) < kept.stored
        ):
            return None
        return kept.stored

    def saved(self, tracker: DialogueStateTracker, newest_id: int | None) -> None:
        """Keep the tracker: it holds what the database holds for the latest session."""
        self._keep(_Kept(tracker, newest_id, len(tracker.events), lent=False))

    def forget(self, sender_id: str) -> None:
        self._kept.pop(sender_id, None)

    def __len__(self) -> int:
        return len(self._kept)

    def _keep(self, kept: _Kept) -> None:
        if self.size <= 0:
            return
        self._kept[kept.tracker.sender_id] = kept
        self._kept.move_to_end(kept.tracker.sender_id)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


def _replace_events(tracker: DialogueStateTracker, stored_form: dict[int, dict]) -> None:
    """Put the stored form of some user and bot events into the tracker, in place."""
    for position, data in stored_form.items():
        old, new = tracker.events[position], Event.from_parameters(data)
        tracker.events[position] = new
        if tracker.latest_message is old:
            tracker.latest_message = new
        if tracker.latest_bot_utterance is old:
            tracker.latest_bot_utterance = new


def newest_event_index(engine: Engine, table: Table) -> None:
    """Create the (sender_id, id) index on Rasa's events table if it is missing.

    Every turn asks for the newest event id of its conversation. With Rasa's index
    on sender_id alone, PostgreSQL answers ``max(id) ... where sender_id = ?`` by
    walking the primary key backwards until a row of that conversation turns up:
    for a new conversation, through the whole table. On the benchmark's 120 000
    events that took 36 ms a turn and most of the database's CPU; on a province's
    table it would take seconds. With this index it takes a few dozen microseconds,
    however large the table.

    Replicas starting together may both create it; PostgreSQL can then report a
    duplicate instead of skipping, which is fine when the index is there.
    """
    # Plain DDL, not an Index on Rasa's Table: that one is shared by every store
    # in the process, and its create_all would take the index everywhere.
    quote = engine.dialect.identifier_preparer.quote
    ddl = (
        f"CREATE INDEX IF NOT EXISTS {quote(NEWEST_EVENT_INDEX)} "
        f"ON {quote(table.name)} (sender_id, id)"
    )
    try:
        with engine.begin() as connection:
            connection.execute(text(ddl))
    except DBAPIError:
        names = {i["name"] for i in inspect(engine).get_indexes(table.name, schema=table.schema)}
        if NEWEST_EVENT_INDEX not in names:
            raise


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that stores masked text and sealed identity slots."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Rasa has configured its logging by now; from here on, its log lines
        # (user text and entities at debug level) are masked too.
        protect_logs()
        super().__init__(*args, **kwargs)
        url, rasa_engine = self.engine.url, self.engine
        if url.get_backend_name() == "sqlite":
            self.engine = sqlite_engine(url)
        else:
            # Rasa sets no pool_pre_ping: after a database restart the first turn on
            # each dead pooled connection failed. Same engine settings otherwise.
            self.engine = create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sessionmaker(bind=self.engine)
        rasa_engine.dispose()
        if url.get_backend_name() != "sqlite":  # SQLite's sender_id index holds the id already
            newest_event_index(self.engine, self.SQLEvent.__table__)
        settings = TrackerStoreSettings()
        self._protector = EventProtector(fernet_for(settings.tracker_secret))
        self.cache = TrackerCache(settings.tracker_cache_size)
        self._newest_query = select(func.max(self.SQLEvent.id)).where(
            self.SQLEvent.sender_id == bindparam("sender_id")
        )

    def _newest_id(self, connection: Connection, sender_id: str) -> int | None:
        # Answered from the (sender_id, id) index, on a plain connection: a few dozen
        # microseconds, against milliseconds to load and replay the events.
        return connection.execute(self._newest_query, {"sender_id": sender_id}).scalar()

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Like ``SQLTrackerStore.save``, storing each new event in protected form."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        with self.engine.begin() as connection:
            newest = self._newest_id(connection, sender_id)
            stored = self.cache.unsaved(tracker, newest)
            start = stored
            if start is None:  # Rasa's way: count the stored events of the latest session
                with self.sessionmaker(bind=connection) as session:
                    start = self._event_query(
                        session, sender_id, fetch_events_from_all_sessions=False
                    ).count()
            rows, masked = self._new_rows(tracker, start)
            if rows:
                connection.execute(self.SQLEvent.__table__.insert(), rows)
                newest = self._newest_id(connection, sender_id)
        if stored is None and start > 0:
            # Not this process's tracker, or another writer came in between.
            self.cache.forget(sender_id)
            return
        # The kept tracker must be what a load would give: masked text, not the raw
        # one, and only the latest session.
        _replace_events(tracker, masked)
        self.cache.saved(self._latest_session(tracker, new_from=start), newest)

    def _latest_session(
        self, tracker: DialogueStateTracker, *, new_from: int
    ) -> DialogueStateTracker:
        """The tracker from its latest ``SessionStarted`` on. Only the events saved just
        now need a look: a loaded or kept tracker already begins with its session."""
        new = itertools.islice(tracker.events, max(new_from, 1), None)
        starts = [i for i, e in enumerate(new, max(new_from, 1)) if isinstance(e, SessionStarted)]
        if not starts:
            return tracker
        # A session started in this turn (every conversation's first): a load would
        # begin with it. Once per session, and a load would replay these events too.
        return DialogueStateTracker.from_events(
            tracker.sender_id, list(tracker.events)[starts[-1] :], slots=self.domain.slots
        )

    def _new_rows(
        self, tracker: DialogueStateTracker, start: int
    ) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
        """The rows for the events from ``start`` on, and the stored form of the user
        and bot events that protection changed, by position."""
        slots = tracker.current_slot_values()
        rows, masked = [], {}
        for position, item in enumerate(itertools.islice(tracker.events, start, None), start):
            data = item.as_dict()
            protected = self._protector.protect(data, slots)
            if protected != data and item.type_name in ("user", "bot"):
                masked[position] = protected
            rows.append(
                {
                    "sender_id": tracker.sender_id,
                    "type_name": item.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {})
                    .get("intent", {})
                    .get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": json.dumps(protected),
                }
            )
        return rows, masked

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session of the conversation: the tracker kept from this process's
        last turn if the database has nothing newer, else loaded from the database."""
        with self.engine.connect() as connection:
            tracker = self.cache.lend(sender_id, self._newest_id(connection, sender_id))
        if tracker is not None:
            return tracker
        with self.session_scope() as session:
            rows = self._rows(session, sender_id, fetch_events_from_all_sessions=False)
            tracker = self._tracker(sender_id, rows)
            if tracker is None:
                self.cache.forget(sender_id)
            else:
                self.cache.loaded(tracker, max(row.id for row in rows))
        return tracker

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Like ``SQLTrackerStore._retrieve``, opening the sealed slots."""
        with self.session_scope() as session:
            rows = self._rows(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            )
            return self._tracker(sender_id, rows)

    def _rows(self, session: Any, sender_id: str, *, fetch_events_from_all_sessions: bool) -> list:
        return self._event_query(
            session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
        ).all()

    def _tracker(self, sender_id: str, rows: list) -> DialogueStateTracker | None:
        events = [self._protector.restore(json.loads(row.data)) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None
