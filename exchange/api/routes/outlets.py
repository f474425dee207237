from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from exchange.api.deps import read_call
from exchange.core.codes import ServiceCode
from exchange.core.problems import READ_RESPONSES
from exchange.schemas import OUTLET_ID_PATTERN, OutletOut
from exchange.services import outlets

router = APIRouter(prefix="/outlets", tags=["service halls"])

# Service halls are public information: any purpose may look them up.
OutletCall = read_call()


@router.get("", response_model=list[OutletOut], responses=READ_RESPONSES)
def search_outlets(
    call: OutletCall,
    city: Annotated[
        str | None, Query(min_length=1, max_length=20, description="成都 or 成都市")
    ] = None,
    service: Annotated[ServiceCode | None, Query(description="Only halls offering it")] = None,
) -> list[dict]:
    """Service halls in a city, optionally only those offering a service."""
    code = service.value if service is not None else None
    return call.read(outlets.search, city=city, service=code)


@router.get("/{outlet_id}", response_model=OutletOut, responses=READ_RESPONSES)
def read_outlet(
    outlet_id: Annotated[str, Path(pattern=OUTLET_ID_PATTERN)], call: OutletCall
) -> dict:
    return call.read(outlets.get, outlet_id=outlet_id)
