from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from exchange.api.deps import PersonRefPath, read_call, write_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES, WRITE_RESPONSES
from exchange.schemas import ApplicationOut, SeniorCardCreate, SeniorCardOut
from exchange.services import senior_cards

router = APIRouter(tags=["senior cards"])

SeniorCardRead = read_call(Purpose.SENIOR_CARD)
SeniorCardWrite = write_call(Purpose.SENIOR_CARD)


@router.get("/persons/{ref}/senior-card", response_model=SeniorCardOut, responses=READ_RESPONSES)
def read_eligibility(ref: PersonRefPath, call: SeniorCardRead) -> dict:
    """Age and eligibility (60 and over), the mailing address down to the street, and
    an application still being processed."""
    return call.read(senior_cards.eligibility, person_ref=ref)


@router.post(
    "/senior-cards/applications",
    status_code=201,
    response_model=ApplicationOut,
    responses=WRITE_RESPONSES,
)
def apply_for_card(body: SeniorCardCreate, call: SeniorCardWrite) -> JSONResponse:
    """Apply for the senior citizen preferential-treatment card (老年人优待证)."""
    return call.write(senior_cards.apply, **body.dict())
