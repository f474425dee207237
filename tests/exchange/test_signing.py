"""Signing scheme and request authentication: every failure is a 401/403 problem."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exchange.core import signing
from exchange.core.config import DEV_CLIENT_SECRET
from exchange.main import create_app
from tests.exchange.support import KIOSK_ID, KIOSK_SECRET, Api, FakeClock, assert_problem
from tests.support.processes import ROOT

OUTLETS = "/v1/outlets"


# The scheme itself (unit)


def test_string_to_sign_is_four_lines_with_body_digest():
    text = signing.string_to_sign("post", "/v1/x?a=1", "2025-06-02T02:00:00.000000Z", b"{}")
    assert text.split("\n") == [
        "POST",
        "/v1/x?a=1",
        "2025-06-02T02:00:00.000000Z",
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",  # sha256("{}")
    ]


def test_signature_is_hex_hmac_sha256_of_that_string():
    import hashlib
    import hmac

    message = signing.string_to_sign("GET", "/v1/outlets", "2025-06-02T02:00:00.000000Z", b"")
    expected = hmac.new(b"secret", message.encode(), hashlib.sha256).hexdigest()
    assert (
        signing.sign("secret", "GET", "/v1/outlets", "2025-06-02T02:00:00.000000Z", b"") == expected
    )
    assert signing.signature_matches(
        "secret", expected.upper(), "GET", "/v1/outlets", "2025-06-02T02:00:00.000000Z", b""
    )
    assert not signing.signature_matches(
        "other", expected, "GET", "/v1/outlets", "2025-06-02T02:00:00.000000Z", b""
    )


def test_the_readme_example_is_right():
    readme = (ROOT / "exchange" / "README.md").read_text(encoding="utf-8")
    target = "/v1/outlets?city=%E6%88%90%E9%83%BD&service=renew_id_card"
    signature = signing.sign(DEV_CLIENT_SECRET, "GET", target, "2025-06-02T02:00:00.000000Z", b"")
    assert f"X-Signature: {signature}" in readme
    assert signing.string_to_sign("GET", target, "2025-06-02T02:00:00.000000Z", b"") in readme


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-02T02:00:00.123456Z", dt.datetime(2025, 6, 2, 2, 0, 0, 123456, dt.timezone.utc)),
        ("2025-06-02T10:00:00+08:00", dt.datetime(2025, 6, 2, 2, 0, tzinfo=dt.timezone.utc)),
        (
            "2025-06-02T02:00:00.123456789z",
            dt.datetime(2025, 6, 2, 2, 0, 0, 123456, dt.timezone.utc),
        ),
    ],
)
def test_rfc3339_timestamps_parse(text, expected):
    assert signing.parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    ["1748829600", "2025-06-02 02:00:00Z", "2025-06-02T02:00:00", "2025-13-02T02:00:00Z", ""],
)
def test_other_timestamp_shapes_are_refused(text):
    assert signing.parse_timestamp(text) is None


# Authentication through the API


def test_a_signed_request_is_answered(api: Api):
    assert api.get(OUTLETS, purpose="service_hall_lookup").status_code == 200


@pytest.mark.parametrize("header", signing.REQUIRED_HEADERS)
def test_each_missing_header_is_named(api: Api, header: str):
    response = api.get(OUTLETS, purpose="service_hall_lookup", omit=(header,))
    problem = assert_problem(response, 401, field=header, slug="missing-signature-headers")
    assert response.headers["WWW-Authenticate"].startswith("X-Signature")
    assert problem["errors"] == [{"field": header, "message": "required"}]


def test_unsigned_request_lists_all_missing_headers(api: Api):
    problem = assert_problem(api.client.get(OUTLETS), 401, field="X-Client-Id")
    assert [error["field"] for error in problem["errors"]] == list(signing.REQUIRED_HEADERS)


def test_unknown_client(api: Api):
    response = api.get(OUTLETS, purpose="service_hall_lookup", client_id="stranger")
    assert_problem(response, 401, field="X-Client-Id", slug="unknown-client")


def test_signature_with_the_wrong_secret(api: Api):
    response = api.get(OUTLETS, purpose="service_hall_lookup", secret="guessed")
    assert_problem(response, 401, field="X-Signature", slug="bad-signature")


def test_signature_over_another_query_string(api: Api):
    response = api.get(
        OUTLETS, purpose="service_hall_lookup", params={"city": "成都"}, target="/v1/outlets"
    )
    assert_problem(response, 401, field="X-Signature", slug="bad-signature")


def test_body_changed_after_signing(api: Api, refs: dict[str, str]):
    signed_body = b'{"person_ref": "%s", "request_type": "new"}' % refs["张桂芳"].encode()
    response = api.request(
        "POST", "/v1/social-security-cards/requests", purpose="social_security_card",
        content=signed_body.replace(b"new", b"replace"), body=signed_body,
    )  # fmt: skip
    assert_problem(response, 401, field="X-Signature", slug="bad-signature")


def test_chinese_query_values_are_signed_percent_encoded(api: Api):
    response = api.get(OUTLETS, purpose="service_hall_lookup", params={"city": "成都"})
    assert response.status_code == 200
    assert {outlet["city"] for outlet in response.json()} == {"成都市"}


@pytest.mark.parametrize("seconds", [-301, 301, 3600])
def test_timestamp_more_than_five_minutes_off(api: Api, clock: FakeClock, seconds: int):
    sent = signing.format_timestamp(clock() + dt.timedelta(seconds=seconds))
    response = api.get(OUTLETS, purpose="service_hall_lookup", timestamp=sent)
    assert_problem(response, 401, field="X-Timestamp", slug="stale-timestamp")


def test_timestamp_just_inside_the_window(api: Api, clock: FakeClock):
    sent = signing.format_timestamp(clock() - dt.timedelta(seconds=299))
    assert api.get(OUTLETS, purpose="service_hall_lookup", timestamp=sent).status_code == 200


def test_unix_seconds_are_not_a_timestamp(api: Api, clock: FakeClock):
    sent = str(int(clock().timestamp()))
    response = api.get(OUTLETS, purpose="service_hall_lookup", timestamp=sent)
    assert_problem(response, 401, field="X-Timestamp", slug="invalid-timestamp")


def test_replayed_request_id(api: Api):
    assert api.get(OUTLETS, purpose="service_hall_lookup", request_id="req-1").status_code == 200
    response = api.get(OUTLETS, purpose="service_hall_lookup", request_id="req-1")
    assert_problem(response, 401, field="X-Request-Id", slug="replayed-request")


def test_replay_under_a_fresh_request_id_is_caught_by_its_signature(api: Api, clock: FakeClock):
    first = api.get(OUTLETS, purpose="service_hall_lookup", request_id="req-a")
    assert first.status_code == 200
    # An eavesdropper copies the signed request and changes only the unsigned id.
    replay = api.get(OUTLETS, purpose="service_hall_lookup", request_id="req-b")
    assert replay.status_code == 200  # a new timestamp was signed: an honest new request
    copied = first.request.headers
    response = api.client.get(OUTLETS, headers={**copied, "X-Request-Id": "req-c"})
    assert_problem(response, 401, slug="replayed-request")


def test_request_ids_are_per_client(api: Api):
    kiosk = Api(api.client, api.clock, KIOSK_ID, KIOSK_SECRET)
    assert api.get(OUTLETS, purpose="service_hall_lookup", request_id="same").status_code == 200
    assert kiosk.get(OUTLETS, purpose="service_hall_lookup", request_id="same").status_code == 200


def test_replay_to_another_exchange_process_is_caught(app: FastAPI, api: Api, clock: FakeClock):
    """Seen ids live in the database, so a second app on the same database knows them."""
    assert api.get(OUTLETS, purpose="service_hall_lookup", request_id="once").status_code == 200
    other = create_app(app.state.settings, clock=clock)
    try:
        with TestClient(other) as client:
            response = Api(client, clock).get(
                OUTLETS, purpose="service_hall_lookup", request_id="once"
            )
        assert_problem(response, 401, slug="replayed-request")
    finally:
        other.state.engine.dispose()


def test_invalid_request_id(api: Api):
    response = api.get(OUTLETS, purpose="service_hall_lookup", request_id="has space")
    assert_problem(response, 401, field="X-Request-Id", slug="invalid-request-id")


def test_purpose_the_client_is_not_allowed(api: Api, refs: dict[str, str]):
    kiosk = Api(api.client, api.clock, KIOSK_ID, KIOSK_SECRET)
    assert kiosk.get(OUTLETS, purpose="service_hall_lookup").status_code == 200
    response = kiosk.get(
        f"/v1/persons/{refs['张桂芳']}/pension-payments", purpose="pension_payment_query"
    )
    assert_problem(response, 403, field="X-Purpose", slug="purpose-not-allowed")


def test_unknown_purpose(api: Api):
    response = api.get(OUTLETS, purpose="curiosity")
    assert_problem(response, 403, field="X-Purpose", slug="purpose-not-allowed")


def test_purpose_that_does_not_cover_the_resource(api: Api, refs: dict[str, str]):
    response = api.get(
        f"/v1/persons/{refs['张桂芳']}/pension-payments", purpose="service_hall_lookup"
    )
    problem = assert_problem(response, 403, field="X-Purpose", slug="purpose-not-accepted")
    assert problem["accepted_purposes"] == ["pension_payment_query"]


def test_unsigned_malformed_json_gets_401_not_422(api: Api):
    response = api.client.post(
        "/v1/identity/verify", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, slug="missing-signature-headers")


def test_signed_malformed_json_gets_422(api: Api):
    response = api.request(
        "POST", "/v1/identity/verify", purpose="identity_verification", content=b"{not json"
    )
    assert_problem(response, 422, slug="invalid-request")


def test_unsigned_unknown_path_and_method_get_401(api: Api):
    assert_problem(api.client.get("/v1/nowhere"), 401)
    assert_problem(api.client.delete(OUTLETS), 401)


def test_signed_unknown_path_is_a_404_problem(api: Api):
    problem = assert_problem(api.get("/v1/nowhere", purpose="service_hall_lookup"), 404)
    assert problem["type"] == "about:blank"


def test_signed_wrong_method_is_a_405_problem(api: Api):
    response = api.request("DELETE", OUTLETS, purpose="service_hall_lookup")
    assert_problem(response, 405)
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/docs"])
def test_public_paths_need_no_signature(api: Api, path: str):
    assert api.client.get(path).status_code == 200


def test_openapi_documents_the_signature_headers(app: FastAPI):
    schema = app.openapi()
    assert set(schema["components"]["securitySchemes"]) == set(signing.REQUIRED_HEADERS)
    operation = schema["paths"]["/v1/outlets"]["get"]
    assert operation["security"] == [{name: [] for name in signing.REQUIRED_HEADERS}]
    assert "application/problem+json" in operation["responses"]["401"]["content"]
    assert "security" not in schema["paths"]["/health"]["get"]
