"""The handover queue: conversations waiting for a member of hall staff.

The assistant files a handover with a summary (service, masked slots, last
turns); the agent view lists the open ones and marks one as taken. Writes never
commit themselves: the idempotency layer commits the row, its audit entry and
the stored answer together.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.redact import redact
from exchange.core.clock import BEIJING
from exchange.core.problems import Problem, not_found
from exchange.core.security import Caller
from exchange.models import Handover
from exchange.services import audit
from exchange.services.idempotency import Outcome

# What one waiting conversation costs a member of staff, on average.
MINUTES_PER_HANDOVER = 3


def _masked(value: Any) -> Any:
    """Mask ID and phone numbers in every string, however the summary is nested."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _position(session: Session, handover: Handover) -> int:
    earlier = select(func.count(Handover.id)).where(
        Handover.status == "open", Handover.id <= handover.id
    )
    return session.execute(earlier).scalar_one()


def view(session: Session, handover: Handover) -> dict:
    def local(moment: dt.datetime | None) -> str | None:
        return moment.astimezone(BEIJING).isoformat(timespec="seconds") if moment else None

    position = _position(session, handover) if handover.status == "open" else None
    return {
        "handover_id": handover.handover_id,
        "conversation_id": handover.conversation_id,
        "service": handover.service,
        "channel": handover.channel,
        "summary": dict(handover.summary),
        "status": handover.status,
        "agent": handover.agent,
        "created_at": local(handover.created_at),
        "taken_at": local(handover.taken_at),
        "position": position,
        "wait_minutes": position * MINUTES_PER_HANDOVER if position else None,
    }


def create_handover(
    *, session: Session, caller: Caller, now: dt.datetime, conversation_id: str,
    service: str | None, channel: str, summary: dict[str, Any],
) -> Outcome:  # fmt: skip
    """Queue a conversation; one that is already waiting keeps its place (200)."""
    waiting = session.execute(
        select(Handover).where(
            Handover.conversation_id == conversation_id, Handover.status == "open"
        )
    ).scalar_one_or_none()
    if waiting is not None:
        return Outcome(200, view(session, waiting))
    handover = Handover(
        handover_id=f"RG{secrets.randbelow(10**10):010d}",  # 10^10: collisions are negligible
        conversation_id=conversation_id,
        client_id=caller.client_id,
        service=service,
        channel=channel,
        summary=_masked(summary),
        status="open",
        created_at=now,
    )
    session.add(handover)
    session.flush()
    audit.record(
        session=session, caller=caller, now=now, action="handover.create",
        resource=f"handovers/{handover.handover_id}",
    )  # fmt: skip
    return Outcome(201, view(session, handover))


def list_handovers(
    *, session: Session, caller: Caller, now: dt.datetime, status: str | None
) -> dict:
    query = select(Handover).order_by(Handover.id)
    if status:
        query = query.where(Handover.status == status)
    handovers = session.execute(query.limit(200)).scalars().all()
    audit.record(
        session=session, caller=caller, now=now, action="handover.list",
        resource=f"handovers?status={status or 'all'}",
    )  # fmt: skip
    return {"handovers": [view(session, h) for h in handovers]}


def take_handover(
    *, session: Session, caller: Caller, now: dt.datetime, handover_id: str, agent: str
) -> Outcome:
    handover = session.execute(
        select(Handover).where(Handover.handover_id == handover_id)
    ).scalar_one_or_none()
    if handover is None:
        raise not_found("handover", f"no handover {handover_id}")
    if handover.status != "open":
        if handover.agent == agent:
            return Outcome(200, view(session, handover))
        raise Problem(
            409, "handover-taken", f"already taken by {handover.agent}",
            title="Handover already taken", agent=handover.agent,
        )  # fmt: skip
    handover.status, handover.agent, handover.taken_at = "taken", agent, now
    audit.record(
        session=session, caller=caller, now=now, action="handover.take",
        resource=f"handovers/{handover.handover_id}",
    )  # fmt: skip
    return Outcome(200, view(session, handover))
