"""The hash-chained audit log: append (serialised), verify, and a citizen's view of it.

Each entry's hash is sha256 over the canonical JSON of its fields followed by the
previous entry's hash. Appends are serialised by locking the single chain-head
row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite every transaction already
holds the database write lock from BEGIN IMMEDIATE), so two requests can never
link to the same predecessor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.idcard import mask
from exchange.core.clock import BEIJING, iso
from exchange.core.codes import purpose_words
from exchange.core.db import GENESIS_HASH
from exchange.core.security import Caller
from exchange.models import AuditEntry, AuditHead, Person

HASHED_FIELDS = (
    "seq", "at", "client_id", "purpose", "request_id", "action", "resource", "citizen",
    "person_id", "outcome",
)  # fmt: skip

# Plain words for the citizen's access log ("<client> <did what>").
ACTION_WORDS = {
    "identity.verify": "核对了您的身份信息",
    "social_insurance.read": "查看了您的社保参保信息",
    "transfer.create": "提交了您的社保转移申请",
    "pension_certification.read": "查看了您的养老金认证情况",
    "pension_certification.create": "为您办理了养老金资格认证",
    "pension_payments.read": "查看了您的养老金发放记录",
    "medical_filing.create": "提交了您的异地就医备案",
    "social_security_card.read": "查看了您的社保卡状态",
    "social_security_card_request.create": "办理了您的社保卡业务",
    "senior_card.read": "查看了您办优待证要用的年龄和地址",
    "senior_card_application.create": "提交了您的老年人优待证申请",
    "id_card.read": "查看了您的身份证有效期",
    "id_card_appointment.create": "为您预约了身份证换领",
    "application.read": "查看了您的办理进度",
    "applications.list": "查看了您的办理记录",
    "access_log.read": "查看了您的数据使用记录",
}


def lock_chain(session: Session) -> AuditHead:
    """Lock the chain head until this transaction ends; call it first in a transaction."""
    return session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()


def entry_hash(fields: dict, prev_hash: str) -> str:
    canonical = json.dumps(
        {name: fields[name] for name in HASHED_FIELDS},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((canonical + prev_hash).encode("utf-8")).hexdigest()


def _fields(entry: AuditEntry) -> dict:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def record(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    action: str,
    resource: str,
    person: Person | None = None,
    id_number: str | None = None,
    outcome: str = "ok",
) -> AuditEntry:
    """Append one entry in the caller's transaction (committed or rolled back with it)."""
    head = lock_chain(session)
    number = person.id_number if person is not None else id_number
    entry = AuditEntry(
        seq=head.last_seq + 1,
        at=iso(now),
        client_id=caller.client_id,
        purpose=caller.purpose,
        request_id=caller.request_id,
        action=action,
        resource=resource[:200],
        citizen=mask(number) if number else None,
        person_id=person.id if person is not None else None,
        outcome=outcome,
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(_fields(entry), entry.prev_hash)
    head.last_seq, head.last_hash = entry.seq, entry.hash
    session.add(entry)
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain from the start; report the first entry that does not fit."""
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    entries = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(count, expected_seq, f"entry #{expected_seq} is missing")
        if entry.prev_hash != prev_hash:
            return ChainReport(count, entry.seq, "its prev_hash does not match the entry before it")
        if entry_hash(_fields(entry), entry.prev_hash) != entry.hash:
            return ChainReport(count, entry.seq, "its content does not match its hash (altered)")
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        return ChainReport(count, expected_seq, "the chain head row is missing")
    if head.last_seq > count:
        return ChainReport(count, count + 1, f"entries from #{count + 1} on were removed")
    if head.last_seq < count:
        return ChainReport(count, head.last_seq + 1, "it was appended outside the exchange")
    if head.last_hash != prev_hash:
        return ChainReport(count, count, "it does not match the chain head")
    return ChainReport(count)


def access_log(
    *, session: Session, person: Person, client_names: dict[str, str], limit: int
) -> list[dict]:
    """The citizen's own entries, newest first, in plain words."""
    entries = session.execute(
        select(AuditEntry)
        .where(AuditEntry.person_id == person.id)
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    ).scalars()
    return [
        {
            "at": dt.datetime.fromisoformat(entry.at).astimezone(BEIJING).isoformat(),
            "client_id": entry.client_id,
            "client": client_names.get(entry.client_id, entry.client_id),
            "purpose": entry.purpose,
            "purpose_text": purpose_words(entry.purpose),
            "action": entry.action,
            "action_text": ACTION_WORDS.get(entry.action, entry.action),
            "outcome": entry.outcome,
        }
        for entry in entries
    ]
