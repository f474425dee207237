"""Property-based API test: no generated input (signed, so it gets past the gate) makes a 500.

Runs against a real `python -m exchange serve` (schemathesis' in-process ASGI client,
starlette-testclient 0.2, does not work with the installed anyio 4). Bounded for CI:
25 examples per operation and data generation method, derandomized.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import experimental
from schemathesis.checks import not_a_server_error

from exchange.core import signing
from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.exchange.conftest import start_exchange
from tests.support.processes import Service

experimental.OPEN_API_3_1.enable()  # FastAPI publishes OpenAPI 3.1

# The purpose each operation accepts, so generated requests reach the route's logic.
PURPOSES = {
    "/v1/identity/verify": "identity_verification",
    "/social-insurance": "social_insurance_transfer",
    "/v1/social-insurance/transfers": "social_insurance_transfer",
    "pension-certification": "pension_certification",
    "/pension-payments": "pension_payment_query",
    "/v1/medical-insurance/filings": "medical_insurance_filing",
    "social-security-card": "social_security_card",
    "id-card": "id_card_renewal",
    "/v1/outlets": "service_hall_lookup",
    "senior-card": "senior_card",  # before "applications": /v1/senior-cards/applications
    "applications": "application_status",
    "/access-log": "access_log_review",
}


def purpose_for(path: str) -> str:
    return next((p for part, p in PURPOSES.items() if part in path), "service_hall_lookup")


class Signer(requests.auth.AuthBase):
    """Sign the request exactly as it will be sent (after schemathesis serialised it)."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = signing.signed_headers(
            client_id=DEV_CLIENT_ID,
            secret=DEV_CLIENT_SECRET,
            purpose=self.purpose,
            method=request.method,
            target=request.path_url,
            body=body,
        )
        request.headers.update(headers)
        return request


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Its own server: generated writes must not disturb other tests' data."""
    tmp = tmp_path_factory.mktemp("exchange-fuzz")
    service = start_exchange(tmp, {"EXCHANGE_DATABASE_URL": f"sqlite:///{tmp / 'exchange.db'}"})
    yield service
    service.stop()


@pytest.fixture
def api_schema(fuzz_server: Service):
    return schemathesis.from_uri(
        f"{fuzz_server.url}/openapi.json",
        base_url=fuzz_server.url,
        data_generation_methods=schemathesis.DataGenerationMethod.all(),
    )


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)  # fmt: skip
def test_no_input_makes_a_server_error(case, http: requests.Session):
    response = case.call(session=http, auth=Signer(purpose_for(case.path)))
    case.validate_response(response, checks=(not_a_server_error,))
