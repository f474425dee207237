from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from exchange.api.deps import PersonRefPath, read_call, write_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES, WRITE_RESPONSES
from exchange.schemas import ApplicationOut, AppointmentCreate, IdCardOut
from exchange.services import applications, persons

router = APIRouter(tags=["id cards"])

IdCardRead = read_call(Purpose.ID_CARD_RENEWAL)
IdCardWrite = write_call(Purpose.ID_CARD_RENEWAL)


@router.get("/persons/{ref}/id-card", response_model=IdCardOut, responses=READ_RESPONSES)
def read_id_card(ref: PersonRefPath, call: IdCardRead) -> dict:
    """Expiry date and status: valid, expiring_soon (90 days or less) or expired."""
    return call.read(persons.id_card, person_ref=ref)


@router.post(
    "/id-card/appointments",
    status_code=201,
    response_model=ApplicationOut,
    responses=WRITE_RESPONSES,
)
def book_appointment(body: AppointmentCreate, call: IdCardWrite) -> JSONResponse:
    """Book a renewal at a hall that offers it, on a working day within the next 60 days."""
    return call.write(applications.book_id_card_appointment, **body.dict())
