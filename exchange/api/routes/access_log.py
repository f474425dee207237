from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from exchange.api.deps import PersonRefPath, read_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES
from exchange.schemas import AccessLogOut
from exchange.services import persons

router = APIRouter(tags=["access log"])

AccessLogCall = read_call(Purpose.ACCESS_LOG_REVIEW)


@router.get("/persons/{ref}/access-log", response_model=AccessLogOut, responses=READ_RESPONSES)
def read_access_log(
    ref: PersonRefPath,
    call: AccessLogCall,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict:
    """Who used the citizen's data, when and why, in plain words, newest first."""
    names = {
        client_id: client.name or client_id for client_id, client in call.settings.clients.items()
    }
    return call.read(persons.access_log, person_ref=ref, client_names=names, limit=limit)
