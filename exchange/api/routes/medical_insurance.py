from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from exchange.api.deps import write_call
from exchange.core.codes import Purpose
from exchange.core.problems import WRITE_RESPONSES
from exchange.schemas import ApplicationOut, MedicalFilingCreate
from exchange.services import applications

router = APIRouter(prefix="/medical-insurance", tags=["medical insurance"])

FilingCall = write_call(Purpose.MEDICAL_INSURANCE_FILING)


@router.post("/filings", status_code=201, response_model=ApplicationOut, responses=WRITE_RESPONSES)
def file_treatment_elsewhere(body: MedicalFilingCreate, call: FilingCall) -> JSONResponse:
    """File for medical treatment outside the insured place (异地就医备案)."""
    return call.write(applications.file_medical_insurance, **body.dict())
