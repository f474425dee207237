from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from exchange.api.deps import PersonRefPath, read_call, write_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES, WRITE_RESPONSES
from exchange.schemas import ApplicationOut, SocialInsuranceOut, TransferCreate
from exchange.services import applications, persons

router = APIRouter(tags=["social insurance"])

ReadCall = read_call(Purpose.SOCIAL_INSURANCE_TRANSFER, Purpose.MEDICAL_INSURANCE_FILING)
TransferCall = write_call(Purpose.SOCIAL_INSURANCE_TRANSFER)


@router.get(
    "/persons/{ref}/social-insurance", response_model=SocialInsuranceOut, responses=READ_RESPONSES
)
def read_social_insurance(ref: PersonRefPath, call: ReadCall) -> dict:
    """Where the person is insured, for how many months, and the contribution history."""
    return call.read(persons.social_insurance, person_ref=ref)


@router.post(
    "/social-insurance/transfers",
    status_code=201,
    response_model=ApplicationOut,
    responses=WRITE_RESPONSES,
)
def create_transfer(body: TransferCreate, call: TransferCall) -> JSONResponse:
    """File a transfer of the insurance relationship; a second open one on the same route is 409."""
    return call.write(applications.create_transfer, **body.dict())
