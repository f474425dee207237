"""Settings: one BaseSettings class, EXCHANGE_* variables, safe defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, ROOT, Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch):
    for name in ("EXCHANGE_DATABASE_URL", "EXCHANGE_PORT", "EXCHANGE_HOST", "EXCHANGE_CLIENTS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'exchange.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8100)
    client = settings.clients[DEV_CLIENT_ID]
    assert client.secret.get_secret_value() == DEV_CLIENT_SECRET
    assert client.allows("pension_payment_query")
    assert settings.signature_tolerance_seconds == 300
    assert (settings.lockout_threshold, settings.lockout_window_seconds) == (5, 900)


def test_clients_from_json(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(
        "EXCHANGE_CLIENTS",
        '{"kiosk": {"secret": "s3", "name": "大厅导引机", "purposes": ["service_hall_lookup"]}}',
    )
    monkeypatch.setenv("EXCHANGE_PORT", "9100")
    settings = Settings()
    assert settings.port == 9100
    assert list(settings.clients) == ["kiosk"]
    assert settings.clients["kiosk"].allows("service_hall_lookup")
    assert not settings.clients["kiosk"].allows("pension_payment_query")
    assert "s3" not in repr(settings)  # secrets stay out of logs and tracebacks


def test_unknown_purpose_in_client_config(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EXCHANGE_CLIENTS", '{"kiosk": {"secret": "s", "purposes": ["spying"]}}')
    with pytest.raises(ValidationError, match="unknown purpose"):
        Settings()


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EXCHANGE_CLIENTS", raising=False)
    with pytest.raises(ValidationError, match="development secret"):
        Settings(environment="production")
    monkeypatch.setenv("EXCHANGE_CLIENTS", '{"assistant": {"secret": "real-secret"}}')
    assert Settings(environment="production").clients["assistant"].allows("application_status")


@pytest.mark.parametrize("schema", ["Public", "x;drop", "1abc", ""])
def test_schema_names_are_plain_identifiers(schema: str):
    with pytest.raises(ValidationError):
        Settings(db_schema=schema)
