from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from exchange.api.deps import read_call, write_call
from exchange.core.codes import Purpose
from exchange.core.problems import READ_RESPONSES, WRITE_RESPONSES
from exchange.schemas import HandoverCreate, HandoverListOut, HandoverOut, HandoverTake
from exchange.services import handovers

router = APIRouter(tags=["handovers"])

HandoverRead = read_call(Purpose.HANDOVER)
HandoverWrite = write_call(Purpose.HANDOVER)
HandoverIdPath = Annotated[str, Path(pattern=r"^RG[0-9]{10}$", example="RG0048310275")]


@router.post("/handovers", status_code=201, response_model=HandoverOut, responses=WRITE_RESPONSES)
def create_handover(body: HandoverCreate, call: HandoverWrite) -> JSONResponse:
    """Queue a conversation for staff; answers its place in the queue and the expected wait."""
    return call.write(handovers.create_handover, **body.dict())


@router.get("/handovers", response_model=HandoverListOut, responses=READ_RESPONSES)
def list_handovers(
    call: HandoverRead, status: Annotated[Literal["open", "taken"] | None, Query()] = None
) -> dict:
    """The queue, oldest first (at most 200)."""
    return call.read(handovers.list_handovers, status=status)


@router.post("/handovers/{handover_id}/take", response_model=HandoverOut, responses=WRITE_RESPONSES)
def take_handover(
    handover_id: HandoverIdPath, body: HandoverTake, call: HandoverWrite
) -> JSONResponse:
    """A member of staff takes a waiting conversation (409 if someone else already did)."""
    return call.write(handovers.take_handover, handover_id=handover_id, agent=body.agent)
