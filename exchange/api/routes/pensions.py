from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from exchange.api.deps import PersonRefPath, read_call, write_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES, WRITE_RESPONSES
from exchange.schemas import (
    ApplicationOut,
    CertificationOut,
    PaymentsOut,
    PensionCertificationCreate,
)
from exchange.services import applications, persons

router = APIRouter(tags=["pensions"])

CertificationRead = read_call(Purpose.PENSION_CERTIFICATION)
CertificationWrite = write_call(Purpose.PENSION_CERTIFICATION)
PaymentsRead = read_call(Purpose.PENSION_PAYMENT_QUERY)


@router.get(
    "/persons/{ref}/pension-certification",
    response_model=CertificationOut,
    responses=READ_RESPONSES,
)
def read_certification(ref: PersonRefPath, call: CertificationRead) -> dict:
    """When the person last certified and when the next certification is due."""
    return call.read(persons.pension_certification, person_ref=ref)


@router.post(
    "/pension-certifications",
    status_code=201,
    response_model=ApplicationOut,
    responses=WRITE_RESPONSES,
)
def certify(body: PensionCertificationCreate, call: CertificationWrite) -> JSONResponse:
    """Record a certification (optionally by a proxy); moves the due date a year ahead."""
    return call.write(applications.certify_pension, **body.dict())


@router.get("/persons/{ref}/pension-payments", response_model=PaymentsOut, responses=READ_RESPONSES)
def read_payments(
    ref: PersonRefPath,
    call: PaymentsRead,
    months: Annotated[int, Query(ge=1, le=24, description="How many recent months")] = 3,
) -> dict:
    """Recent monthly payments, newest first; amounts in yuan as "1234.50" strings."""
    return call.read(persons.pension_payments, person_ref=ref, months=months)
