from __future__ import annotations

from fastapi import APIRouter

from exchange.api.deps import SIGNATURE_HEADER_DOCS
from exchange.api.routes import (
    access_log,
    applications,
    handovers,
    id_cards,
    identity,
    medical_insurance,
    outlets,
    pensions,
    senior_cards,
    social_insurance,
    social_security_cards,
)

api_router = APIRouter(prefix="/v1", dependencies=SIGNATURE_HEADER_DOCS)
for module in (
    identity,
    social_insurance,
    pensions,
    medical_insurance,
    social_security_cards,
    senior_cards,
    id_cards,
    outlets,
    applications,
    access_log,
    handovers,
):
    api_router.include_router(module.router)
