"""Identity verification with a lockout against guessing.

Five failures for one ID number within 15 minutes lock that ID number for 15
minutes (numbers from settings). Failures are counted per ID number (stored as
its sha256, so the table does not collect typed-in numbers), whether or not the
number belongs to a registered person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from exchange.core.config import Settings
from exchange.core.problems import Problem
from exchange.core.security import Caller
from exchange.models import IdentityFailure, IdentityLock, Person
from exchange.services import audit
from exchange.services.idempotency import Outcome

ACTION = "identity.verify"


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    window: dt.timedelta
    duration: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LockoutPolicy:
        return cls(
            settings.lockout_threshold,
            dt.timedelta(seconds=settings.lockout_window_seconds),
            dt.timedelta(seconds=settings.lockout_seconds),
        )


def _subject(id_number: str) -> str:
    return hashlib.sha256(id_number.encode("ascii")).hexdigest()


def _locked(until: dt.datetime, now: dt.datetime) -> Outcome:
    retry_after = max(1, math.ceil((until - now).total_seconds()))
    problem = Problem(
        423,
        "identity-locked",
        "Too many failed attempts for this ID number; try again later.",
        title="Identity verification locked",
        retry_after=retry_after,
        locked_until=until.isoformat(),
    )
    return Outcome(423, problem.to_dict(), {"Retry-After": str(retry_after)})


def verify(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    policy: LockoutPolicy,
    name: str,
    id_number: str,
    phone_last4: str,
) -> Outcome:
    """200 with the person_ref, 401 on a mismatch, 423 while locked.

    Failures are answered as outcomes rather than raised, so the counted failure
    and its audit entry are committed.
    """
    subject = _subject(id_number)
    resource = "identity/verify"
    lock = session.get(IdentityLock, subject)
    if lock is not None and lock.locked_until > now:
        audit.record(
            session=session, caller=caller, now=now, action=ACTION, resource=resource,
            id_number=id_number, outcome="locked",
        )  # fmt: skip
        return _locked(lock.locked_until, now)

    person = session.execute(
        select(Person).where(Person.id_number == id_number)
    ).scalar_one_or_none()
    if person is not None and person.name == name and person.phone[-4:] == phone_last4:
        session.execute(delete(IdentityFailure).where(IdentityFailure.subject == subject))
        audit.record(
            session=session, caller=caller, now=now, action=ACTION, resource=resource,
            person=person,
        )  # fmt: skip
        return Outcome(200, {"person_ref": person.person_ref})

    session.add(IdentityFailure(subject=subject, at=now))
    session.flush()
    failures = session.execute(
        select(func.count())
        .select_from(IdentityFailure)
        .where(IdentityFailure.subject == subject, IdentityFailure.at > now - policy.window)
    ).scalar_one()
    audit.record(
        session=session, caller=caller, now=now, action=ACTION, resource=resource,
        person=person, id_number=id_number, outcome="failed",
    )  # fmt: skip
    if failures >= policy.threshold:
        # Start afresh after the lock: the failures that caused it are spent.
        session.execute(delete(IdentityFailure).where(IdentityFailure.subject == subject))
        until = now + policy.duration
        if lock is None:
            session.add(IdentityLock(subject=subject, locked_until=until))
        else:
            lock.locked_until = until
        return _locked(until, now)
    problem = Problem(
        401,
        "identity-not-verified",
        "The name, ID number and phone digits do not match our records.",
        title="Identity not verified",
        remaining_attempts=policy.threshold - failures,
    )
    return Outcome(401, problem.to_dict())
