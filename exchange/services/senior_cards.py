"""Senior citizen preferential-treatment card (老年人优待证): who may apply, and applying.

The card is for people aged 60 and over. It is picked up at a service hall or
mailed to the address on record; the assistant only ever sees that address down
to the street (``mask_address``), never the house number.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.orm import Session

from exchange.core.clock import beijing_date
from exchange.core.codes import ServiceCode
from exchange.core.problems import Problem, invalid
from exchange.core.security import Caller
from exchange.models import Application
from exchange.services import applications, persons
from exchange.services.idempotency import Outcome

MIN_AGE = 60
WORKING_DAYS = 10
_STREET = re.compile(r"^.+?(?:大道|大街|路|街|巷|胡同|弄|村)")
_AREA = re.compile(r"^.+(?:区|县|市)")


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years on ``day`` (a birthday counts from that day on)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def mask_address(address: str) -> str:
    """The address down to the street, the rest hidden: 青岛市市南区香港中路****."""
    match = _STREET.match(address) or _AREA.match(address)
    return (match.group(0) if match else "") + "****"


def eligibility(*, session: Session, caller: Caller, now: dt.datetime, person_ref: str) -> dict:
    """Age, the masked mailing address and any open application: what the dialogue needs."""
    person = persons.read_audited(session, caller, now, person_ref, "senior_card")
    age = age_on(person.birth_date, beijing_date(now))
    address = person.mailing_address
    pending = applications.newest_first(
        session,
        person,
        Application.service == ServiceCode.APPLY_SENIOR_CARD.value,
        Application.status != "done",
    ).first()
    return {
        "person_ref": person.person_ref,
        "age": age,
        "min_age": MIN_AGE,
        "eligible": age >= MIN_AGE,
        "address_on_record": address is not None,
        "address_masked": mask_address(address.address) if address else None,
        "pending_application_no": pending.application_no if pending else None,
        "pending_status_text": applications.STATUS_WORDS.get(pending.status) if pending else None,
    }


def apply(
    *, session: Session, caller: Caller, now: dt.datetime, person_ref: str, delivery: str
) -> Outcome:
    """File an application; 409 under 60, 422 for mail without an address on record."""
    person = persons.resolve_for_write(session, person_ref)
    if age_on(person.birth_date, beijing_date(now)) < MIN_AGE:
        raise Problem(
            409, "not-eligible", f"The senior card is for people aged {MIN_AGE} and over.",
            title="Not eligible", min_age=MIN_AGE,
        )  # fmt: skip
    address = person.mailing_address
    if delivery == "mail" and address is None:
        raise invalid("delivery", "no mailing address on record; choose hall")
    if delivery == "mail":
        next_step = (
            f"一般{WORKING_DAYS}个工作日内办好。办好后寄到您登记的地址，寄出时会发短信告诉您。"
        )
    else:
        next_step = (
            f"一般{WORKING_DAYS}个工作日内办好。办好后会发短信通知您，带上身份证到办事大厅领取。"
        )
    return applications.file_application(
        session,
        caller=caller,
        now=now,
        person=person,
        service=ServiceCode.APPLY_SENIOR_CARD,
        action="senior_card_application.create",
        status="submitted",
        next_step=next_step,
        details={
            "delivery": delivery,
            "mail_to": mask_address(address.address) if delivery == "mail" else None,
        },
    )
