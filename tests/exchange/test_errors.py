"""Every error is problem+json; unexpected ones are 500 without internals or personal data."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from exchange.api.deps import get_clock, get_session
from exchange.main import create_app
from tests.exchange.support import DEMO, Api, FakeClock, assert_problem, settings_for


def test_unexpected_error_is_a_500_problem_and_logs_no_personal_data(
    app: FastAPI, api: Api, caplog: pytest.LogCaptureFixture
):
    id_number = DEMO["张桂芳"][0]

    def broken_clock() -> None:
        raise RuntimeError(f"lookup failed for {id_number}")

    app.dependency_overrides[get_clock] = lambda: broken_clock
    with caplog.at_level(logging.ERROR, logger="exchange.errors"):
        response = api.get("/v1/outlets", purpose="service_hall_lookup")
    assert_problem(response, 500, slug="internal-error")
    assert "lookup failed" not in response.text and "Traceback" not in response.text
    assert "RuntimeError" in caplog.text
    assert id_number not in caplog.text


def test_database_outage_is_a_503_problem(app: FastAPI, api: Api):
    def no_database() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    app.dependency_overrides[get_session] = no_database
    response = api.get("/v1/outlets", purpose="service_hall_lookup")
    assert_problem(response, 503, slug="database-unavailable")
    assert response.headers["Retry-After"] == "5"


def test_unreachable_database_at_startup_is_not_a_crash(tmp_path):
    """The engine is built when the app is created but connects only when asked."""
    settings = settings_for("postgresql://nobody@127.0.0.1:1/none")
    app = create_app(settings, clock=FakeClock())
    with TestClient(app) as client:
        assert_problem(client.get("/health"), 503)
    app.state.engine.dispose()


def test_validation_errors_list_every_field(api: Api, refs: dict[str, str]):
    response = api.post(
        "/v1/medical-insurance/filings",
        {"person_ref": refs["刘淑珍"], "insured_province": "山东", "reason": "x"},
        purpose="medical_insurance_filing",
    )
    problem = assert_problem(response, 422, field="insured_province", slug="invalid-request")
    assert {error["field"] for error in problem["errors"]} == {
        "insured_province", "destination_province", "destination_city", "reason",
    }  # fmt: skip
    assert problem["detail"].endswith("(and 3 more)")
