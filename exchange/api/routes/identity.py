from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from exchange.api.deps import write_call
from exchange.core.problems import WRITE_RESPONSES, ProblemModel
from exchange.schemas import IdentityVerification, PersonRefOut
from exchange.services import identity

router = APIRouter(prefix="/identity", tags=["identity"])

# Verification comes first in every service, so any purpose may ask for it; the
# purpose still lands in the audit log.
VerifyCall = write_call()


@router.post(
    "/verify",
    response_model=PersonRefOut,
    responses={
        **WRITE_RESPONSES,
        423: {"model": ProblemModel, "description": "Locked after repeated failures"},
    },
)
def verify_identity(body: IdentityVerification, call: VerifyCall) -> JSONResponse:
    """Match name, ID number and the phone's last 4 digits; answer an opaque person_ref."""
    return call.write(
        identity.verify,
        policy=identity.LockoutPolicy.from_settings(call.settings),
        name=body.name,
        id_number=body.id_number,
        phone_last4=body.phone_last4,
    )
