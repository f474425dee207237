"""Load demo citizens and service halls from YAML (see data/demo/citizens.yml).

Loading is an upsert keyed by ID number and outlet_id, so person_refs stay stable
when the file is loaded again; one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common import idcard
from common.regions import PROVINCES
from exchange.core.clock import beijing_date
from exchange.core.codes import APPLICATION_PREFIXES, ServiceCode
from exchange.core.security import Caller
from exchange.models import (
    Application,
    ContributionPeriod,
    MailingAddress,
    Outlet,
    PensionPayment,
    Person,
    SocialSecurityCard,
)
from exchange.services import applications, audit, persons

SEED_CALLER_ID = "exchange-cli"
ADJUSTMENT_MONTH = 7  # yearly pension adjustment takes effect in July
ADJUSTMENT_RATE = Decimal("1.02")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_SERVICES = {code.value for code in ServiceCode}
DEMO_FILE = Path(__file__).resolve().parents[1] / "data" / "demo" / "citizens.yml"


class SeedError(ValueError):
    """The file is not a valid register; the message says where."""


@dataclass(frozen=True)
class SeedReport:
    citizens: int
    outlets: int
    skipped: bool = False


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected a mapping with 'citizens' and 'outlets'")
    return data


def demo_identities(
    *, path: Path = DEMO_FILE, pension_status: str | None = None
) -> dict[str, tuple[str, str]]:
    """Name -> (ID number, phone's last 4 digits), in file order: what the assistant asks
    a citizen for to check who they are. ``pension_status``: only those with that status."""
    records = load(path).get("citizens") or []
    if pension_status is not None:
        records = [r for r in records if (r.get("pension") or {}).get("status") == pension_status]
    return {r["name"]: (str(r["id_number"]), str(r["phone"])[-4:]) for r in records}


def _need(record: dict, key: str, where: str) -> Any:
    if record.get(key) in (None, ""):
        raise SeedError(f"{where}.{key} is required")
    return record[key]


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SeedError(f"{where} must be a date like 2004-04-01") from None


def _month(value: Any, where: str) -> str:
    if not _MONTH.fullmatch(str(value)):
        raise SeedError(f"{where} must be a month like 1999-03")
    return str(value)


def _province(value: Any, where: str) -> str:
    if value not in PROVINCES:
        raise SeedError(f"{where}: {value!r} is not a canonical province name")
    return value


def _fen(value: Any, where: str) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise SeedError(f"{where} must be an amount like 3268.70") from None
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise SeedError(f"{where} must be a positive amount with at most 2 decimals")
    return int(amount * 100)


def months_between(start: str, end: str) -> int:
    (y1, m1), (y2, m2) = (map(int, start.split("-")), map(int, end.split("-")))
    return (y2 - y1) * 12 + (m2 - m1) + 1


def payment_history(monthly_fen: int, day: int, months: int, today: dt.date) -> list[tuple]:
    """(YYYY-MM, fen, paid_on) for the last ``months`` paid months, newest first."""
    year, month = today.year, today.month
    if today.day < day:  # this month's payment has not been made yet
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    adjusted_from = (today.year if today.month >= ADJUSTMENT_MONTH else today.year - 1, 7)
    before_fen = int((Decimal(monthly_fen) / ADJUSTMENT_RATE).quantize(Decimal("1")))
    history = []
    for _ in range(months):
        fen = monthly_fen if (year, month) >= adjusted_from else before_fen
        history.append((f"{year:04d}-{month:02d}", fen, dt.date(year, month, day)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return history


def _person(session: Session, record: dict, where: str, today: dt.date) -> Person:
    number = idcard.normalise(str(_need(record, "id_number", where)))
    if problem := idcard.problem(number):
        raise SeedError(f"{where}.id_number is not valid ({problem})")
    gender = _need(record, "gender", where)
    if gender != idcard.gender(number):
        raise SeedError(f"{where}.gender does not match the ID number")
    insured = _need(record, "insured", where)
    person = session.execute(select(Person).where(Person.id_number == number)).scalar_one_or_none()
    if person is None:
        person = Person(id_number=number, person_ref=secrets.token_urlsafe(16))
        session.add(person)
    person.name = _need(record, "name", where)
    person.gender = gender
    person.phone = str(_need(record, "phone", where))
    person.birth_date = idcard.birth_date(number)
    person.insured_province = _province(insured.get("province"), f"{where}.insured.province")
    person.insured_city = _need(insured, "city", f"{where}.insured")
    person.insurance_status = record.get("insurance_status", "active")

    pension = record.get("pension") or {}
    person.pension_status = pension.get("status", "not_retired")
    person.retired_on = _date(pension["retired_on"], f"{where}.pension.retired_on") if (
        pension.get("retired_on")
    ) else None  # fmt: skip
    person.pension_monthly_fen = (
        _fen(pension["monthly_amount"], f"{where}.pension.monthly_amount")
        if pension.get("monthly_amount") else None
    )  # fmt: skip

    certification = record.get("certification") or {}
    if "last_certified_days_ago" in certification:
        last = today - dt.timedelta(days=int(certification["last_certified_days_ago"]))
        person.certification_last = last
        person.certification_due = persons.one_year_after(last)
    else:
        person.certification_last = person.certification_due = None

    card = record.get("id_card") or {}
    person.id_card_long_term = bool(card.get("long_term"))
    if person.id_card_long_term:
        person.id_card_expiry = None
    elif "expires_in_days" in card:
        person.id_card_expiry = today + dt.timedelta(days=int(card["expires_in_days"]))
    else:
        person.id_card_expiry = _date(_need(card, "expires", f"{where}.id_card"), where)
    session.flush()  # person.id is needed below
    return person


def _person_details(
    session: Session, person: Person, record: dict, where: str, today: dt.date
) -> None:
    person.contributions = [
        ContributionPeriod(
            start_month=_month(period.get("from"), f"{where}.contributions[{i}].from"),
            end_month=_month(period.get("to"), f"{where}.contributions[{i}].to"),
            province=_province(period.get("province"), f"{where}.contributions[{i}].province"),
            city=_need(period, "city", f"{where}.contributions[{i}]"),
            months=months_between(str(period["from"]), str(period["to"])),
            employer=period.get("employer"),
        )
        for i, period in enumerate(record.get("contributions") or [])
    ]
    session.execute(delete(PensionPayment).where(PensionPayment.person_id == person.id))
    pension = record.get("pension") or {}
    if person.pension_monthly_fen:
        day = int(pension.get("payment_day", 15))
        for month, fen, paid_on in payment_history(
            person.pension_monthly_fen, day, int(pension.get("history_months", 12)), today
        ):
            session.add(
                PensionPayment(person_id=person.id, month=month, amount_fen=fen, paid_on=paid_on)
            )

    address = record.get("address")
    if address:
        if not isinstance(address, str) or len(address.strip()) > 200:
            raise SeedError(f"{where}.address must be one line of at most 200 characters")
        if person.mailing_address is None:
            person.mailing_address = MailingAddress(address=address.strip())
        person.mailing_address.address = address.strip()
    else:
        person.mailing_address = None  # removed from the file: removed from the register

    card = record.get("social_security_card")
    if card:
        number = str(_need(card, "number", f"{where}.social_security_card"))
        if person.card is None:
            person.card = SocialSecurityCard(card_no=number, status="active", issued_on=today)
        person.card.card_no = number
        person.card.status = card.get("status", "active")
        person.card.issued_on = _date(card.get("issued_on", today), f"{where}.social_security_card")


def _applications(
    session: Session, person: Person, record: dict, where: str, now: dt.datetime
) -> None:
    for i, item in enumerate(record.get("applications") or []):
        here = f"{where}.applications[{i}]"
        service = _need(item, "service", here)
        if service not in {code.value for code in APPLICATION_PREFIXES}:
            raise SeedError(f"{here}.service must be one of the services that file applications")
        number = str(_need(item, "application_no", here))
        prefix = APPLICATION_PREFIXES[ServiceCode(service)]
        if not re.fullmatch(prefix + r"[0-9]{8}", number) or applications.looks_like_date(
            number[2:]
        ):
            raise SeedError(f"{here}.application_no must be {prefix} and 8 digits, not date-like")
        status = _need(item, "status", here)
        if status not in applications.STATUS_WORDS:
            raise SeedError(f"{here}.status must be submitted, processing or done")
        details = dict(item.get("details") or {})
        at = now - dt.timedelta(days=int(item.get("days_ago", 0)))
        existing = session.execute(
            select(Application).where(Application.application_no == number)
        ).scalar_one_or_none()
        application = existing or Application(application_no=number, client_id=SEED_CALLER_ID)
        application.service, application.person, application.status = service, person, status
        application.next_step = _need(item, "next_step", here)
        application.details = details
        application.active_key = applications.active_key(service, person.id, details, status)
        application.created_at = application.updated_at = at
        session.add(application)


def _outlet(session: Session, record: dict, where: str) -> None:
    outlet_id = str(_need(record, "outlet_id", where))
    services = record.get("services") or []
    unknown = [s for s in services if s not in _SERVICES]
    if unknown:
        raise SeedError(f"{where}.services: unknown service codes {unknown}")
    outlet = session.get(Outlet, outlet_id) or Outlet(outlet_id=outlet_id)
    outlet.name = _need(record, "name", where)
    outlet.province = _province(record.get("province"), f"{where}.province")
    outlet.city = _need(record, "city", where)
    outlet.district = record.get("district")
    outlet.address = _need(record, "address", where)
    outlet.opening_hours = _need(record, "opening_hours", where)
    outlet.phone = str(_need(record, "phone", where))
    outlet.services = list(services)
    outlet.accessibility = _need(record, "accessibility", where)
    session.add(outlet)


def seed(
    session: Session, data: dict[str, Any], *, now: dt.datetime, if_empty: bool = False
) -> SeedReport:
    """Upsert the register in one transaction (the caller's session; committed here)."""
    try:
        audit.lock_chain(session)
        if if_empty and session.execute(select(Person.id).limit(1)).first() is not None:
            session.rollback()
            return SeedReport(0, 0, skipped=True)
        today = beijing_date(now)
        citizens = data.get("citizens") or []
        outlets = data.get("outlets") or []
        for i, record in enumerate(citizens):
            where = f"citizens[{i}]"
            person = _person(session, record, where, today)
            _person_details(session, person, record, where, today)
            _applications(session, person, record, where, now)
        for i, record in enumerate(outlets):
            _outlet(session, record, f"outlets[{i}]")
        caller = Caller(SEED_CALLER_ID, "数据管理员", "register_load", uuid.uuid4().hex)
        audit.record(
            session=session, caller=caller, now=now, action="register.seed",
            resource=f"citizens={len(citizens)} outlets={len(outlets)}",
        )  # fmt: skip
        session.commit()
        return SeedReport(len(citizens), len(outlets))
    except BaseException:
        session.rollback()
        raise
