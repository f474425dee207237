from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from exchange.api.deps import PersonRefPath, read_call, write_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES, WRITE_RESPONSES
from exchange.schemas import ApplicationOut, CardOut, CardRequestCreate
from exchange.services import applications, persons

router = APIRouter(tags=["social security cards"])

CardRead = read_call(Purpose.SOCIAL_SECURITY_CARD)
CardWrite = write_call(Purpose.SOCIAL_SECURITY_CARD)


@router.get("/persons/{ref}/social-security-card", response_model=CardOut, responses=READ_RESPONSES)
def read_card(ref: PersonRefPath, call: CardRead) -> dict:
    """The card's status and masked number."""
    return call.read(persons.social_security_card, person_ref=ref)


@router.post(
    "/social-security-cards/requests",
    status_code=201,
    response_model=ApplicationOut,
    responses=WRITE_RESPONSES,
)
def request_card(body: CardRequestCreate, call: CardWrite) -> JSONResponse:
    """New card, replacement, or loss report (which blocks the card at once)."""
    return call.write(applications.request_card, **body.dict())
