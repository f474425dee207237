"""Request and response bodies. Request validation uses the shared ID and region rules.

Provinces must be canonical full names (四川省, not 四川): the bot canonicalises
what people say before it calls the exchange.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from enum import Enum
from typing import Any

from pydantic import BaseModel, Extra, constr, validator

from common import idcard
from common.regions import PROVINCES
from exchange.core.codes import ServiceCode

PERSON_REF_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
APPLICATION_NO_PATTERN = r"^[A-Z]{2}[0-9]{8}$"
OUTLET_ID_PATTERN = r"^[A-Za-z0-9-]{1,32}$"

PersonRef = constr(strict=True, regex=PERSON_REF_PATTERN)
Name = constr(strict=True, strip_whitespace=True, min_length=2, max_length=20)
Province = constr(strict=True, max_length=20)
City = constr(strict=True, max_length=20)

_CITY = re.compile(r"[\u4e00-\u9fff]{2,20}")
_ID_PROBLEMS = {
    "length": "must have 18 characters",
    "characters": "must be 17 digits followed by a digit or X",
    "birth_date": "contains an impossible birth date",
    "check_digit": "check digit does not match (GB 11643)",
}


class Channel(str, Enum):
    KIOSK = "kiosk"
    PHONE = "phone"
    WEB = "web"


class ProxyRelation(str, Enum):
    SPOUSE = "spouse"
    CHILD = "child"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    RELATIVE = "relative"
    OTHER = "other"


class FilingReason(str, Enum):
    LONG_TERM_RESIDENCE = "long_term_residence"
    RESETTLEMENT = "resettlement"
    TEMPORARY = "temporary"


class CardRequestType(str, Enum):
    NEW = "new"
    REPORT_LOSS = "report_loss"
    REPLACE = "replace"


class CardDelivery(str, Enum):
    HALL = "hall"  # picked up at a service hall
    MAIL = "mail"  # mailed to the address on record


class AppointmentReason(str, Enum):
    EXPIRED = "expired"
    LOST = "lost"
    DAMAGED = "damaged"
    INFO_CHANGE = "info_change"


def check_name(value: str) -> str:
    if any(ch.isdigit() or not ch.isprintable() for ch in value):
        raise ValueError("must be a person's name without digits or control characters")
    return value


def check_province(value: str) -> str:
    if value not in PROVINCES:
        raise ValueError("must be the full name of a provincial-level division, e.g. 四川省")
    return value


def check_city(value: str) -> str:
    if not _CITY.fullmatch(value):
        raise ValueError("must be a city name in Chinese characters, e.g. 成都市")
    return value


class RequestBody(BaseModel):
    class Config:
        extra = Extra.forbid  # a misspelt field is an error, not silently ignored
        use_enum_values = True  # services and stored JSON see plain strings


class IdentityVerification(RequestBody):
    name: Name
    id_number: constr(strict=True, max_length=40)
    phone_last4: constr(strict=True, max_length=4)

    _name = validator("name", allow_reuse=True)(check_name)

    @validator("id_number")
    def _id_number(cls, value: str) -> str:
        number = idcard.normalise(value)
        # ASCII only: str.isdigit() and \d would also accept full-width or Arabic digits.
        if len(number) == 18 and not re.fullmatch(r"[0-9]{17}[0-9X]", number):
            raise ValueError(_ID_PROBLEMS["characters"])
        problem = idcard.problem(number)
        if problem:
            raise ValueError(_ID_PROBLEMS[problem])
        return number

    @validator("phone_last4")
    def _phone_last4(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9]{4}", value):
            raise ValueError("must be exactly 4 digits")
        return value


class TransferCreate(RequestBody):
    person_ref: PersonRef
    from_province: Province
    from_city: City
    to_province: Province
    to_city: City

    _provinces = validator("from_province", "to_province", allow_reuse=True)(check_province)
    _cities = validator("from_city", "to_city", allow_reuse=True)(check_city)


class PensionCertificationCreate(RequestBody):
    person_ref: PersonRef
    channel: Channel
    proxy_name: Name | None = None
    proxy_relation: ProxyRelation | None = None

    _proxy_name = validator("proxy_name", allow_reuse=True)(check_name)

    @validator("proxy_relation", always=True)
    def _proxy_pair(
        cls, value: ProxyRelation | None, values: dict[str, Any]
    ) -> ProxyRelation | None:
        if "proxy_name" not in values:  # proxy_name itself failed; report that error only
            return value
        if values["proxy_name"] is not None and value is None:
            raise ValueError("is required when proxy_name is given")
        if values["proxy_name"] is None and value is not None:
            raise ValueError("needs proxy_name as well")
        return value


class MedicalFilingCreate(RequestBody):
    person_ref: PersonRef
    insured_province: Province
    destination_province: Province
    destination_city: City
    reason: FilingReason

    _provinces = validator("insured_province", "destination_province", allow_reuse=True)(
        check_province
    )
    _city = validator("destination_city", allow_reuse=True)(check_city)


class CardRequestCreate(RequestBody):
    person_ref: PersonRef
    request_type: CardRequestType


class SeniorCardCreate(RequestBody):
    person_ref: PersonRef
    delivery: CardDelivery


class AppointmentCreate(RequestBody):
    person_ref: PersonRef
    reason: AppointmentReason
    outlet_id: constr(strict=True, regex=OUTLET_ID_PATTERN)
    date: dt.date

    @validator("date", pre=True)
    def _iso_date(cls, value: object) -> object:
        # pydantic would also take a number as a unix time; only a calendar date is meant.
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError("must be a date like 2025-06-30")
        return value


# Responses (documentation and response validation for reads).


class PersonRefOut(BaseModel):
    person_ref: str


class ContributionPeriodOut(BaseModel):
    from_month: str
    to_month: str
    province: str
    city: str
    months: int


class SocialInsuranceOut(BaseModel):
    person_ref: str
    insured_province: str
    insured_city: str
    status: str
    status_text: str
    contribution_months: int
    contribution_history: list[ContributionPeriodOut]


class CertificationOut(BaseModel):
    person_ref: str
    pension_status: str
    last_certified: str | None
    due_date: str | None
    days_until_due: int | None
    status: str


class PaymentOut(BaseModel):
    month: str
    amount: str
    paid_on: str
    status: str


class PaymentsOut(BaseModel):
    person_ref: str
    pension_status: str
    currency: str
    monthly_amount: str | None
    months: int
    payments: list[PaymentOut]


class IdCardOut(BaseModel):
    person_ref: str
    id_number_masked: str
    long_term: bool
    expiry_date: str | None
    days_until_expiry: int | None
    status: str


class CardOut(BaseModel):
    person_ref: str
    has_card: bool
    card_no_masked: str | None
    status: str | None
    status_text: str
    issued_on: str | None


class SeniorCardOut(BaseModel):
    person_ref: str
    age: int
    min_age: int
    eligible: bool
    address_on_record: bool
    # Down to the street only: the house number never leaves the exchange.
    address_masked: str | None
    pending_application_no: str | None
    pending_status_text: str | None


class HandoverChannel(str, Enum):
    KIOSK = "kiosk"
    PHONE = "phone"
    WEB = "web"
    REST = "rest"


class HandoverCreate(RequestBody):
    conversation_id: constr(strict=True, min_length=1, max_length=128)
    service: constr(strict=True, max_length=40) | None = None
    channel: HandoverChannel = HandoverChannel.WEB
    summary: dict[str, Any]

    @validator("summary")
    def _small_summary(cls, value: dict[str, Any]) -> dict[str, Any]:
        # A summary is a few slots and five turns; anything bigger is a mistake or abuse.
        if len(json.dumps(value, ensure_ascii=False)) > 20_000:
            raise ValueError("must be at most 20000 characters as JSON")
        return value


class HandoverTake(RequestBody):
    agent: constr(strict=True, regex=r"^[A-Za-z0-9_.@-]{1,32}$")


class HandoverOut(BaseModel):
    handover_id: str
    conversation_id: str
    service: str | None
    channel: str
    summary: dict[str, Any]
    status: str
    agent: str | None
    created_at: str
    taken_at: str | None
    position: int | None
    wait_minutes: int | None


class HandoverListOut(BaseModel):
    handovers: list[HandoverOut]


class ApplicationOut(BaseModel):
    application_no: str
    service: str
    status: str
    status_text: str
    next_step: str
    person_ref: str
    created_at: str
    updated_at: str
    details: dict[str, Any]


class ApplicationListOut(BaseModel):
    person_ref: str
    applications: list[ApplicationOut]


class OutletOut(BaseModel):
    outlet_id: str
    name: str
    province: str
    city: str
    district: str | None
    address: str
    opening_hours: str
    phone: str
    services: list[ServiceCode]
    accessibility: str


class AccessEntryOut(BaseModel):
    at: str
    client_id: str
    client: str
    purpose: str
    purpose_text: str
    action: str
    action_text: str
    outcome: str


class AccessLogOut(BaseModel):
    person_ref: str
    entries: list[AccessEntryOut]


class HealthOut(BaseModel):
    status: str
