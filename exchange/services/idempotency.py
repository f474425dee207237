"""Idempotent writes: one transaction holds the change, its audit entry and the stored result.

The same Idempotency-Key (per client) with the same request returns the stored
result; with a different request it is a 409. The (client_id, key) unique
constraint is the last line of defence: if two requests race past the lookup,
the loser's whole transaction rolls back and it answers with the winner's result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.core.problems import Problem
from exchange.models import IdempotencyRecord


@dataclass(frozen=True)
class Outcome:
    """What a write answered; stored verbatim under its Idempotency-Key."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Identify "the same request": same method, path and JSON content (key order ignored)."""
    try:
        content = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except (ValueError, UnicodeDecodeError):
        content = body.hex()
    return hashlib.sha256(f"{method}\n{path}\n{content}".encode()).hexdigest()


def _stored(session: Session, client_id: str, key: str) -> IdempotencyRecord | None:
    return session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()


def _replay(record: IdempotencyRecord, request_fingerprint: str) -> Outcome:
    if record.fingerprint != request_fingerprint:
        raise Problem(
            409,
            "idempotency-key-reused",
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request.",
            title="Idempotency-Key reused",
            field="Idempotency-Key",
        )
    return Outcome(record.status_code, record.body, record.headers)


def execute(
    *,
    session: Session,
    client_id: str,
    key: str | None,
    request_fingerprint: str,
    now: dt.datetime,
    perform: Callable[[], Outcome],
) -> Outcome:
    """Run ``perform`` once per key and commit it together with the stored outcome.

    The caller has already locked the audit chain, which serialises writes, so the
    lookup below sees every committed result for this key.
    """
    try:
        if key is not None and (record := _stored(session, client_id, key)) is not None:
            session.rollback()  # nothing to write; release the chain lock early
            return _replay(record, request_fingerprint)
        outcome = perform()
        if key is not None:
            session.add(
                IdempotencyRecord(
                    client_id=client_id,
                    key=key,
                    fingerprint=request_fingerprint,
                    status_code=outcome.status_code,
                    body=outcome.body,
                    headers=outcome.headers,
                    created_at=now,
                )
            )
        session.commit()
        return outcome
    except IntegrityError:
        session.rollback()
        if key is not None and (record := _stored(session, client_id, key)) is not None:
            session.rollback()
            return _replay(record, request_fingerprint)
        # Another request changed the same thing first (e.g. filed the same open
        # application); nothing of this one was kept, so the caller may look and retry.
        raise Problem(
            409,
            "concurrent-change",
            "Another request changed the same record at the same time; nothing was saved.",
            title="Concurrent change",
        ) from None
    except BaseException:
        session.rollback()
        raise
