"""Who is calling and why: verify the signed X-Road-style headers of a request."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.core import signing
from exchange.core.codes import Purpose
from exchange.core.config import Settings
from exchange.core.problems import Problem
from exchange.models import IdempotencyRecord, SeenRequest

_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
_PURPOSES = frozenset(p.value for p in Purpose)
_CHALLENGE = {"WWW-Authenticate": 'X-Signature realm="exchange"'}


@dataclass(frozen=True)
class Caller:
    """A verified client request: recorded in every audit entry it causes."""

    client_id: str
    client_name: str
    purpose: str
    request_id: str


def _unauthorized(slug: str, detail: str, field: str, title: str) -> Problem:
    return Problem(401, slug, detail, title=title, field=field, headers=_CHALLENGE)


def authenticate(
    *,
    headers: Mapping[str, str],
    method: str,
    target: str,
    body: bytes,
    settings: Settings,
    session: Session,
    now: dt.datetime,
    accepted: frozenset[str] | None = None,
) -> Caller:
    """The verified caller, or a 401/403 Problem. ``accepted`` are the route's purposes."""
    missing = [name for name in signing.REQUIRED_HEADERS if not headers.get(name)]
    if missing:
        raise Problem(
            401,
            "missing-signature-headers",
            f"Every request must carry {', '.join(signing.REQUIRED_HEADERS)}; "
            f"missing: {', '.join(missing)}.",
            title="Missing signature headers",
            field=missing[0],
            errors=[{"field": name, "message": "required"} for name in missing],
            headers=_CHALLENGE,
        )
    client_id = headers[signing.HEADER_CLIENT_ID]
    client = settings.clients.get(client_id)
    if client is None:
        raise _unauthorized(
            "unknown-client", "This client is not registered.", signing.HEADER_CLIENT_ID,
            "Unknown client",
        )  # fmt: skip
    timestamp = headers[signing.HEADER_TIMESTAMP]
    sent_at = signing.parse_timestamp(timestamp)
    if sent_at is None:
        raise _unauthorized(
            "invalid-timestamp",
            "X-Timestamp must be an RFC 3339 date-time, e.g. 2025-06-02T02:00:00.123456Z.",
            signing.HEADER_TIMESTAMP,
            "Invalid timestamp",
        )
    skew = abs((now - sent_at).total_seconds())
    if skew > settings.signature_tolerance_seconds:
        raise _unauthorized(
            "stale-timestamp",
            f"X-Timestamp is {int(skew)} seconds away from the exchange clock; "
            f"at most {settings.signature_tolerance_seconds} are accepted.",
            signing.HEADER_TIMESTAMP,
            "Stale timestamp",
        )
    signature = headers[signing.HEADER_SIGNATURE]
    secret = client.secret.get_secret_value()
    if not signing.signature_matches(secret, signature, method, target, timestamp, body):
        raise _unauthorized(
            "bad-signature",
            "X-Signature does not match: sign METHOD, TARGET, X-Timestamp and SHA256(body), "
            "joined by newlines, with HMAC-SHA256 and the client secret.",
            signing.HEADER_SIGNATURE,
            "Bad signature",
        )
    request_id = headers[signing.HEADER_REQUEST_ID]
    if not _REQUEST_ID.fullmatch(request_id):
        raise _unauthorized(
            "invalid-request-id", "X-Request-Id must be 1-128 visible ASCII characters.",
            signing.HEADER_REQUEST_ID, "Invalid request id",
        )  # fmt: skip
    _remember(session, client_id=client_id, request_id=request_id, signature=signature, now=now)
    purpose = headers[signing.HEADER_PURPOSE]
    if purpose not in _PURPOSES or not client.allows(purpose):
        raise Problem(
            403,
            "purpose-not-allowed",
            "This client is not allowed to request data for this purpose.",
            title="Purpose not allowed",
            field=signing.HEADER_PURPOSE,
        )
    if accepted is not None and purpose not in accepted:
        raise Problem(
            403,
            "purpose-not-accepted",
            f"This resource serves only these purposes: {', '.join(sorted(accepted))}.",
            title="Purpose does not cover this resource",
            field=signing.HEADER_PURPOSE,
            accepted_purposes=sorted(accepted),
        )
    return Caller(client_id, client.name or client_id, purpose, request_id)


def _remember(
    session: Session, *, client_id: str, request_id: str, signature: str, now: dt.datetime
) -> None:
    """Record the request in its own committed transaction; a unique clash means a replay.

    The database, not process memory, holds these, so a replay to another server
    process (or after a restart) is caught too. A signature seen before is a replay
    even under a fresh X-Request-Id, because the request id is not signed.
    """
    session.add(
        SeenRequest(
            client_id=client_id,
            request_id=request_id,
            signature=signature.strip().lower(),
            seen_at=now,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _unauthorized(
            "replayed-request",
            "This request (its X-Request-Id or signature) was already received; "
            "send a new request id and a fresh signature.",
            signing.HEADER_REQUEST_ID,
            "Replayed request",
        ) from None


def forget_old_requests(session: Session, *, now: dt.datetime, settings: Settings) -> None:
    """Drop what no longer needs remembering; run under the audit-chain lock.

    Request ids older than the replay window: their timestamps are stale anyway.
    Idempotency results older than their time to live: a retry comes within seconds,
    and the open-application rules still stop a late duplicate.
    """
    cutoff = now - dt.timedelta(seconds=settings.replay_window_seconds)
    session.execute(delete(SeenRequest).where(SeenRequest.seen_at < cutoff))
    expired = now - dt.timedelta(seconds=settings.idempotency_ttl_seconds)
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < expired))
