from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from exchange.api.deps import SessionDep
from exchange.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(session: SessionDep) -> dict:
    """Unsigned liveness check that also proves the database answers."""
    session.execute(text("SELECT 1"))
    session.rollback()
    return {"status": "ok"}
