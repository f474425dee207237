"""Applications: filing them (one per service) and reading their status.

Write functions change rows and append the audit entry but never commit: the
idempotency layer commits the change, the audit entry and the stored result in
one transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.engine.result import ScalarResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from exchange.core.clock import BEIJING, beijing_date
from exchange.core.codes import APPLICATION_PREFIXES, ServiceCode
from exchange.core.problems import Problem, invalid, not_found
from exchange.core.security import Caller
from exchange.models import Application, Outlet, Person
from exchange.services import audit, persons
from exchange.services.idempotency import Outcome

STATUS_WORDS = {"submitted": "已提交", "processing": "办理中", "done": "已办结"}
APPOINTMENT_HORIZON_DAYS = 60
_NUMBER_DRAWS = 20


def looks_like_date(digits: str) -> bool:
    """19xx…/20xx… reads like a year or a date and gets confused with one on the phone."""
    return digits[:2] in ("19", "20")


def draw_number(prefix: str) -> str:
    while True:
        digits = f"{secrets.randbelow(10**8):08d}"
        if not looks_like_date(digits):
            return prefix + digits


def active_key(service: str, person_id: int, details: dict, status: str) -> str | None:
    """What makes a second application "the same thing" while this one blocks it.

    Open transfers, card issues, ID card appointments and senior card applications
    block duplicates until done; a medical filing for a destination stays in force;
    one pension certification a day is enough.
    """
    d = details
    if service == ServiceCode.MEDICAL_INSURANCE_FILING:
        return f"YB:{person_id}:{d['destination_province']}{d['destination_city']}"
    if service == ServiceCode.PENSION_CERTIFICATION:
        return f"YL:{person_id}:{d['certified_on']}" if d.get("certified_on") else None
    if status == "done":
        return None
    if service == ServiceCode.TRANSFER_SOCIAL_INSURANCE:
        route = f"{d['from_province']}{d['from_city']}>{d['to_province']}{d['to_city']}"
        return f"SB:{person_id}:{route}"
    if service == ServiceCode.SOCIAL_SECURITY_CARD:
        return f"SK:{person_id}:issue" if d.get("request_type") != "report_loss" else None
    if service == ServiceCode.RENEW_ID_CARD:
        return f"SF:{person_id}"
    if service == ServiceCode.APPLY_SENIOR_CARD:
        return f"YD:{person_id}"
    return None


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def view(application: Application) -> dict:
    def local(moment: dt.datetime) -> str:
        return moment.astimezone(BEIJING).isoformat(timespec="seconds")

    return {
        "application_no": application.application_no,
        "service": application.service,
        "status": application.status,
        "status_text": STATUS_WORDS.get(application.status, application.status),
        "next_step": application.next_step,
        "person_ref": application.person.person_ref,
        "created_at": local(application.created_at),
        "updated_at": local(application.updated_at),
        "details": dict(application.details),
    }


def newest_first(session: Session, person: Person, *conditions: ColumnElement) -> ScalarResult:
    """A person's applications (those that meet ``conditions``), the newest first."""
    return session.execute(
        select(Application)
        .where(Application.person_id == person.id, *conditions)
        .order_by(Application.created_at.desc(), Application.id.desc())
    ).scalars()


def file_application(
    session: Session,
    *,
    caller: Caller,
    now: dt.datetime,
    person: Person,
    service: ServiceCode,
    action: str,
    status: str,
    next_step: str,
    details: dict,
) -> Outcome:
    """Add one application (duplicate check, number, audit entry); every service's write
    ends here. The caller has checked the request against the person's records."""
    key = active_key(service, person.id, details, status)
    if key is not None:
        existing = session.execute(
            select(Application).where(Application.active_key == key)
        ).scalar_one_or_none()
        if existing is not None:
            raise Problem(
                409,
                "duplicate-application",
                "An application for the same thing is already on file; "
                "see application_no for its status.",
                title="Duplicate application",
                application_no=existing.application_no,
                application_status=existing.status,
            )
    prefix = APPLICATION_PREFIXES[service]
    for _ in range(_NUMBER_DRAWS):
        application = Application(
            application_no=draw_number(prefix),
            service=service.value,
            person=person,
            client_id=caller.client_id,
            status=status,
            next_step=next_step,
            details=details,
            active_key=key,
            created_at=now,
            updated_at=now,
        )
        try:
            # A savepoint, so a number collision costs one draw, not the transaction.
            with session.begin_nested():
                session.add(application)
            break
        except IntegrityError:
            taken = select(Application.id).where(
                Application.application_no == application.application_no
            )
            if session.execute(taken).first() is None:
                raise
    else:  # 20 collisions in a row means the number space is exhausted, not bad luck
        raise RuntimeError(f"no free application number for prefix {prefix}")
    audit.record(
        session=session, caller=caller, now=now, action=action,
        resource=f"applications/{application.application_no}", person=person,
    )  # fmt: skip
    return Outcome(201, view(application))


def create_transfer(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    person_ref: str,
    from_province: str,
    from_city: str,
    to_province: str,
    to_city: str,
) -> Outcome:
    person = persons.resolve_for_write(session, person_ref)
    if from_province != person.insured_province:
        raise invalid("from_province", f"the person is insured in {person.insured_province}")
    if from_city != person.insured_city:
        raise invalid("from_city", f"the person is insured in {person.insured_city}")
    if (to_province, to_city) == (from_province, from_city):
        raise invalid("to_city", "the destination is where the person is already insured")
    return file_application(
        session,
        caller=caller,
        now=now,
        person=person,
        service=ServiceCode.TRANSFER_SOCIAL_INSURANCE,
        action="transfer.create",
        status="submitted",
        next_step=(
            f"转移申请已提交。{to_city}和{from_city}的社保部门会接着办，"
            "一般45个工作日内办完，办好后会发短信告诉您。"
        ),
        details={
            "from_province": from_province,
            "from_city": from_city,
            "to_province": to_province,
            "to_city": to_city,
        },
    )


def certify_pension(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    person_ref: str,
    channel: str,
    proxy_name: str | None,
    proxy_relation: str | None,
) -> Outcome:
    person = persons.resolve_for_write(session, person_ref)
    persons.require_pension(person)
    today = beijing_date(now)
    due = persons.one_year_after(today)
    outcome = file_application(
        session,
        caller=caller,
        now=now,
        person=person,
        service=ServiceCode.PENSION_CERTIFICATION,
        action="pension_certification.create",
        status="done",
        next_step=f"认证已完成，养老金照常发放。下次请在{chinese_date(due)}前再认证。",
        details={
            "channel": channel,
            "proxy_name": proxy_name,
            "proxy_relation": proxy_relation,
            "certified_on": today.isoformat(),
            "next_due_date": due.isoformat(),
        },
    )
    person.certification_last, person.certification_due = today, due
    return outcome


def file_medical_insurance(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    person_ref: str,
    insured_province: str,
    destination_province: str,
    destination_city: str,
    reason: str,
) -> Outcome:
    person = persons.resolve_for_write(session, person_ref)
    if insured_province != person.insured_province:
        raise invalid("insured_province", f"the person is insured in {person.insured_province}")
    if (destination_province, destination_city) == (person.insured_province, person.insured_city):
        raise invalid("destination_city", "the destination is where the person is insured")
    # Temporary trips are filed on the spot; moving for good needs a check by staff.
    immediate = reason == "temporary"
    today = beijing_date(now)
    return file_application(
        session,
        caller=caller,
        now=now,
        person=person,
        service=ServiceCode.MEDICAL_INSURANCE_FILING,
        action="medical_filing.create",
        status="done" if immediate else "submitted",
        next_step=(
            f"备案已生效。在{destination_city}看病时带上社保卡，可以直接结算。"
            if immediate
            else "备案申请已提交，一般3个工作日内办好，办好后会发短信告诉您。"
        ),
        details={
            "insured_province": insured_province,
            "destination_province": destination_province,
            "destination_city": destination_city,
            "reason": reason,
            "effective_from": today.isoformat() if immediate else None,
        },
    )


def request_card(
    *, session: Session, caller: Caller, now: dt.datetime, person_ref: str, request_type: str
) -> Outcome:
    person = persons.resolve_for_write(session, person_ref)
    card = person.card
    if request_type == "report_loss":
        if card is None or card.status != "active":
            raise Problem(
                409, "card-not-active", "There is no card in use to report lost.",
                title="No active card", card_status=card.status if card else None,
            )  # fmt: skip
        card.status = "lost"  # takes effect at once: nobody can use the card any more
        status = "done"
        next_step = "社保卡已挂失，别人不能再用这张卡。如需补办新卡，可以说“补办社保卡”。"
    elif request_type == "replace":
        if card is None:
            raise Problem(
                409, "no-card", "There is no card to replace; request a new card instead.",
                title="No card to replace",
            )  # fmt: skip
        status = "submitted"
        next_step = "补卡申请已提交。新卡大约10个工作日做好，做好后会发短信通知您领取。"
    else:  # new
        if card is not None:
            raise Problem(
                409, "card-exists", "This person already has a card; report it lost or replace it.",
                title="Card already issued", card_status=card.status,
            )  # fmt: skip
        status = "submitted"
        next_step = "办卡申请已提交。新卡大约10个工作日做好，做好后会发短信通知您领取。"
    if request_type == "replace":
        card.status = "replacing"  # rolled back with everything else if this is a duplicate
    return file_application(
        session,
        caller=caller,
        now=now,
        person=person,
        service=ServiceCode.SOCIAL_SECURITY_CARD,
        action="social_security_card_request.create",
        status=status,
        next_step=next_step,
        details={"request_type": request_type, "card_status": card.status if card else None},
    )


def book_id_card_appointment(
    *,
    session: Session,
    caller: Caller,
    now: dt.datetime,
    person_ref: str,
    reason: str,
    outlet_id: str,
    date: dt.date,
) -> Outcome:
    person = persons.resolve_for_write(session, person_ref)
    outlet = session.get(Outlet, outlet_id)
    if outlet is None:
        raise invalid("outlet_id", "no service hall has this outlet_id")
    if ServiceCode.RENEW_ID_CARD.value not in outlet.services:
        raise invalid("outlet_id", "this service hall does not handle ID card renewal")
    today = beijing_date(now)
    if date <= today:
        raise invalid("date", "must be a day after today")
    if date > today + dt.timedelta(days=APPOINTMENT_HORIZON_DAYS):
        raise invalid("date", f"must be within {APPOINTMENT_HORIZON_DAYS} days from today")
    if date.weekday() >= 5:
        raise invalid("date", "must be a working day (Monday to Friday)")
    return file_application(
        session,
        caller=caller,
        now=now,
        person=person,
        service=ServiceCode.RENEW_ID_CARD,
        action="id_card_appointment.create",
        status="submitted",
        next_step=(
            f"已预约{chinese_date(date)}到{outlet.name}办理。请带上户口簿按时去，旧身份证也请带上。"
        ),
        details={
            "reason": reason,
            "outlet_id": outlet.outlet_id,
            "outlet_name": outlet.name,
            "outlet_address": outlet.address,
            "date": date.isoformat(),
        },
    )


def get(*, session: Session, caller: Caller, now: dt.datetime, application_no: str) -> dict:
    application = session.execute(
        select(Application).where(Application.application_no == application_no)
    ).scalar_one_or_none()
    if application is None:
        raise not_found("application", "No application has this number.")
    audit.record(
        session=session, caller=caller, now=now, action="application.read",
        resource=f"applications/{application_no}", person=application.person,
    )  # fmt: skip
    return view(application)


def list_for_person(*, session: Session, caller: Caller, now: dt.datetime, person_ref: str) -> dict:
    person = persons.resolve(session, person_ref)
    audit.record(
        session=session, caller=caller, now=now, action="applications.list",
        resource=f"persons/{person_ref}/applications", person=person,
    )  # fmt: skip
    applications = newest_first(session, person)
    return {"person_ref": person.person_ref, "applications": [view(a) for a in applications]}
