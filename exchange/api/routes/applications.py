from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from exchange.api.deps import PersonRefPath, read_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES
from exchange.schemas import APPLICATION_NO_PATTERN, ApplicationListOut, ApplicationOut
from exchange.services import applications

router = APIRouter(tags=["applications"])

StatusCall = read_call(Purpose.APPLICATION_STATUS)


@router.get(
    "/applications/{application_no}", response_model=ApplicationOut, responses=READ_RESPONSES
)
def read_application(
    application_no: Annotated[str, Path(pattern=APPLICATION_NO_PATTERN, example="SB48310275")],
    call: StatusCall,
) -> dict:
    """Status and next step of one application, by the number the citizen reads out."""
    return call.read(applications.get, application_no=application_no)


@router.get(
    "/persons/{ref}/applications", response_model=ApplicationListOut, responses=READ_RESPONSES
)
def list_applications(ref: PersonRefPath, call: StatusCall) -> dict:
    """All of a person's applications, newest first."""
    return call.read(applications.list_for_person, person_ref=ref)
