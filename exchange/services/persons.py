"""Reading a person's records. Every read appends an audit entry in the same transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.idcard import mask
from exchange.core.clock import beijing_date
from exchange.core.problems import Problem, invalid, not_found
from exchange.core.security import Caller
from exchange.models import PensionPayment, Person
from exchange.services import audit

EXPIRING_SOON_DAYS = 90  # an ID card may be renewed from three months before it expires
CERTIFICATION_DUE_SOON_DAYS = 30

INSURANCE_STATUS_WORDS = {
    "active": "正常参保缴费",
    "suspended": "暂停缴费",
    "retired": "已退休，按月领取养老金",
}
CARD_STATUS_WORDS = {"active": "正常使用", "lost": "已挂失", "replacing": "补卡办理中"}


def yuan(fen: int) -> str:
    """Amounts leave the exchange as yuan strings with two decimals: 4380.50."""
    return f"{fen // 100}.{fen % 100:02d}"


def one_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _by_ref(session: Session, person_ref: str) -> Person | None:
    return session.execute(
        select(Person).where(Person.person_ref == person_ref)
    ).scalar_one_or_none()


def resolve(session: Session, person_ref: str) -> Person:
    """The person behind a ref in a URL; 404 when there is none."""
    person = _by_ref(session, person_ref)
    if person is None:
        raise not_found("person", "No person has this person_ref; verify the identity first.")
    return person


def resolve_for_write(session: Session, person_ref: str) -> Person:
    """The person named in a request body; 422 naming the field when there is none."""
    person = _by_ref(session, person_ref)
    if person is None:
        raise invalid("person_ref", "no person has this person_ref; verify the identity first")
    return person


def read_audited(session: Session, caller: Caller, now: dt.datetime, ref: str, what: str) -> Person:
    """The person behind a ref in a URL, read with the audit entry ``<what>.read``."""
    person = resolve(session, ref)
    audit.record(
        session=session, caller=caller, now=now, action=f"{what}.read",
        resource=f"persons/{ref}/{what.replace('_', '-')}", person=person,
    )  # fmt: skip
    return person


def social_insurance(
    *, session: Session, caller: Caller, now: dt.datetime, person_ref: str
) -> dict:
    person = read_audited(session, caller, now, person_ref, "social_insurance")
    return {
        "person_ref": person.person_ref,
        "insured_province": person.insured_province,
        "insured_city": person.insured_city,
        "status": person.insurance_status,
        "status_text": INSURANCE_STATUS_WORDS.get(person.insurance_status, person.insurance_status),
        "contribution_months": sum(period.months for period in person.contributions),
        "contribution_history": [
            {
                "from_month": period.start_month,
                "to_month": period.end_month,
                "province": period.province,
                "city": period.city,
                "months": period.months,
            }
            for period in person.contributions
        ],
    }


def certification_view(person: Person, today: dt.date) -> dict:
    due = person.certification_due
    if due is None:
        status, days = "not_required", None
    else:
        days = (due - today).days
        status = (
            "overdue"
            if days < 0
            else "due_soon"
            if days <= CERTIFICATION_DUE_SOON_DAYS
            else "certified"
        )
    return {
        "person_ref": person.person_ref,
        "pension_status": person.pension_status,
        "last_certified": person.certification_last.isoformat()
        if person.certification_last
        else None,
        "due_date": due.isoformat() if due else None,
        "days_until_due": days,
        "status": status,
    }


def pension_certification(
    *, session: Session, caller: Caller, now: dt.datetime, person_ref: str
) -> dict:
    person = read_audited(session, caller, now, person_ref, "pension_certification")
    return certification_view(person, beijing_date(now))


def pension_payments(
    *, session: Session, caller: Caller, now: dt.datetime, person_ref: str, months: int
) -> dict:
    person = read_audited(session, caller, now, person_ref, "pension_payments")
    payments = session.execute(
        select(PensionPayment)
        .where(PensionPayment.person_id == person.id)
        .order_by(PensionPayment.month.desc())
        .limit(months)
    ).scalars()
    monthly = person.pension_monthly_fen
    return {
        "person_ref": person.person_ref,
        "pension_status": person.pension_status,
        "currency": "CNY",
        "monthly_amount": yuan(monthly) if monthly is not None else None,
        "months": months,
        "payments": [
            {
                "month": payment.month,
                "amount": yuan(payment.amount_fen),
                "paid_on": payment.paid_on.isoformat(),
                "status": "paid",
            }
            for payment in payments
        ],
    }


def id_card(*, session: Session, caller: Caller, now: dt.datetime, person_ref: str) -> dict:
    person = read_audited(session, caller, now, person_ref, "id_card")
    today = beijing_date(now)
    expiry = person.id_card_expiry
    if person.id_card_long_term or expiry is None:
        status, days = "valid", None
    else:
        days = (expiry - today).days
        status = (
            "expired" if days < 0 else "expiring_soon" if days <= EXPIRING_SOON_DAYS else "valid"
        )
    return {
        "person_ref": person.person_ref,
        "id_number_masked": mask(person.id_number),
        "long_term": bool(person.id_card_long_term),
        "expiry_date": expiry.isoformat() if expiry and not person.id_card_long_term else None,
        "days_until_expiry": days,
        "status": status,
    }


def card_view(person: Person) -> dict:
    card = person.card
    if card is None:
        return {"person_ref": person.person_ref, "has_card": False, "card_no_masked": None,
                "status": None, "status_text": "还没有社保卡", "issued_on": None}  # fmt: skip
    return {
        "person_ref": person.person_ref,
        "has_card": True,
        "card_no_masked": card.card_no[:1] + "*" * (len(card.card_no) - 5) + card.card_no[-4:],
        "status": card.status,
        "status_text": CARD_STATUS_WORDS.get(card.status, card.status),
        "issued_on": card.issued_on.isoformat(),
    }


def social_security_card(
    *, session: Session, caller: Caller, now: dt.datetime, person_ref: str
) -> dict:
    return card_view(read_audited(session, caller, now, person_ref, "social_security_card"))


def access_log(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    person_ref: str,
    client_names: dict[str, str],
    limit: int,
) -> dict:
    # Audited like any read; the citizen then also sees this very look-up, newest first.
    person = read_audited(session, caller, now, person_ref, "access_log")
    session.flush()
    entries = audit.access_log(
        session=session, person=person, client_names=client_names, limit=limit
    )
    return {"person_ref": person.person_ref, "entries": entries}


def require_pension(person: Person) -> None:
    if person.pension_status != "retired":
        raise Problem(
            409, "not-receiving-pension", "This person does not receive a pension.",
            title="Not receiving a pension",
        )  # fmt: skip
