"""Access control units: ENV=production in every settings class, kiosk device lists,
token buckets and the sign-in lock, problem+json headers.

The same rules against the running gateway and phone server: tests/voice/test_access.py
and tests/web/test_agent_view.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from actions.settings import ActionSettings
from exchange.core.config import DEV_CLIENT_SECRET
from exchange.core.config import Settings as ExchangeSettings
from rasa_addons.tracker_store import TrackerStoreSettings
from voice import problems
from voice.devices import (
    DEV_KIOSK_DEVICE,
    DEV_KIOSK_TOKEN,
    DeviceListError,
    DeviceRegistry,
    Verdict,
    digest,
    parse_devices,
)
from voice.phone import allowed
from voice.ratelimit import FailureLock, TokenBuckets, acquire
from voice.settings import (
    GATEWAY,
    PHONE,
    DevelopmentDefaults,
    VoiceSettings,
    development_defaults,
    refuse_development_defaults,
    startup_problem,
)

REAL_CLIENTS = '{"assistant": {"secret": "a-real-secret"}}'
KIOSK_TOKEN = "k" * 43


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the defaults, whatever the shell running pytest has set."""
    names = (
        "ENV", "EXCHANGE_ENVIRONMENT", "EXCHANGE_CLIENTS", "EXCHANGE_CLIENT_SECRET",
        "TRACKER_SECRET", "AGENT_PASSWORD", "RASA_TOKEN",
    )  # fmt: skip
    for name in names:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("VOICE_"):
            monkeypatch.delenv(name)


def production_voice_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("AGENT_PASSWORD", "a-real-password")
    monkeypatch.setenv("RASA_TOKEN", "a-real-rasa-token")
    monkeypatch.setenv("EXCHANGE_CLIENT_SECRET", "a-real-secret")
    monkeypatch.setenv("VOICE_KIOSK_DEVICES", f'{{"robot-17": "{KIOSK_TOKEN}"}}')


# --- ENV: one switch, development defaults refused in production ------------------------


def test_exchange_reads_env_and_still_its_old_name(monkeypatch: pytest.MonkeyPatch):
    assert ExchangeSettings().environment == "development"
    monkeypatch.setenv("EXCHANGE_ENVIRONMENT", "test")
    assert ExchangeSettings().environment == "test"
    monkeypatch.setenv("ENV", "Production")  # ENV wins over the old name
    monkeypatch.setenv("EXCHANGE_CLIENTS", REAL_CLIENTS)
    assert ExchangeSettings().environment == "production"


def test_exchange_in_production_refuses_the_development_client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(ValidationError) as refused:
        ExchangeSettings()
    message = str(refused.value)
    assert "set EXCHANGE_CLIENTS" in message and DEV_CLIENT_SECRET not in message
    monkeypatch.delenv("ENV")
    monkeypatch.setenv("EXCHANGE_ENVIRONMENT", "production")  # the old name refuses it too
    with pytest.raises(ValidationError, match="set EXCHANGE_CLIENTS"):
        ExchangeSettings()
    monkeypatch.setenv("EXCHANGE_CLIENTS", REAL_CLIENTS)
    assert ExchangeSettings().environment == "production"


def test_actions_in_production_refuse_the_development_secret(monkeypatch: pytest.MonkeyPatch):
    assert ActionSettings().environment == "development"
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(ValidationError, match="set EXCHANGE_CLIENT_SECRET to your own value"):
        ActionSettings()
    monkeypatch.setenv("EXCHANGE_CLIENT_SECRET", "a-real-secret")
    assert ActionSettings().environment == "production"


def test_the_action_server_refuses_production_defaults_in_one_line():
    env = {**os.environ, "ENV": "production"}
    env.pop("EXCHANGE_CLIENT_SECRET", None)
    result = subprocess.run(
        [sys.executable, "-m", "actions"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "action server not started: ENV=production refuses the development defaults: "
        "set EXCHANGE_CLIENT_SECRET to your own value."
    )


def test_one_log_level_switch_for_every_service(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert ActionSettings().log_level == "DEBUG"
    assert ExchangeSettings().log_level.upper() == "DEBUG"
    monkeypatch.setenv("EXCHANGE_LOG_LEVEL", "WARNING")
    assert ExchangeSettings().log_level == "WARNING"


def test_tracker_store_in_production_refuses_the_development_secret(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(ValidationError, match="set TRACKER_SECRET to your own value"):
        TrackerStoreSettings()
    monkeypatch.setenv("TRACKER_SECRET", "")
    with pytest.raises(ValidationError, match="set TRACKER_SECRET"):
        TrackerStoreSettings()
    monkeypatch.setenv("TRACKER_SECRET", "a-real-secret")
    assert TrackerStoreSettings().tracker_secret == "a-real-secret"


@pytest.mark.parametrize("value", ["staging", "prod", ""])
def test_an_unknown_environment_is_refused_everywhere(monkeypatch, value: str):
    monkeypatch.setenv("ENV", value)
    for settings in (ExchangeSettings, ActionSettings, TrackerStoreSettings, VoiceSettings):
        with pytest.raises(ValidationError):
            settings()


def test_gateway_in_development_runs_with_the_development_defaults():
    settings = VoiceSettings()
    assert settings.environment == "development"
    assert settings.kiosk_devices is None and settings.kiosk_devices_file is None
    assert settings.phone_allowed == ["127.0.0.1/32", "::1/128"]


def test_gateway_in_production_names_every_variable_still_at_its_default(monkeypatch):
    monkeypatch.setenv("ENV", "production")
    settings = VoiceSettings()
    with pytest.raises(DevelopmentDefaults) as refused:
        refuse_development_defaults(settings, GATEWAY)
    assert str(refused.value) == (
        "ENV=production refuses the development defaults: set AGENT_PASSWORD, RASA_TOKEN, "
        "EXCHANGE_CLIENT_SECRET and VOICE_KIOSK_DEVICES_FILE (or VOICE_KIOSK_DEVICES) "
        "to your own values."
    )
    # The phone server uses only the Rasa token of these.
    assert development_defaults(settings, PHONE) == ["RASA_TOKEN"]
    production_voice_env(monkeypatch)
    settings = VoiceSettings()
    assert development_defaults(settings, GATEWAY) == development_defaults(settings, PHONE) == []


def test_development_and_test_keep_their_defaults(monkeypatch):
    for environment in ("development", "test"):
        monkeypatch.setenv("ENV", environment)
        assert development_defaults(VoiceSettings(), GATEWAY) == []


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("AGENT_PASSWORD", "dev-only-agent-password-change-me", "AGENT_PASSWORD"),
        ("RASA_TOKEN", "dev-only-rasa-token-change-me", "RASA_TOKEN"),
        ("RASA_TOKEN", "", "RASA_TOKEN"),
        ("EXCHANGE_CLIENT_SECRET", DEV_CLIENT_SECRET, "EXCHANGE_CLIENT_SECRET"),
        ("VOICE_KIOSK_DEVICES", f'{{"r1": "{DEV_KIOSK_TOKEN}"}}', "VOICE_KIOSK_DEVICES"),
        ("VOICE_KIOSK_DEVICES", f'{{"r1": "sha256:{digest(DEV_KIOSK_TOKEN)}"}}', "VOICE_KIOSK"),
    ],
)
def test_gateway_in_production_refuses_each_development_value(
    monkeypatch, variable: str, value: str, named: str
):
    production_voice_env(monkeypatch)
    monkeypatch.setenv(variable, value)
    with pytest.raises(DevelopmentDefaults) as refused:
        refuse_development_defaults(VoiceSettings(), GATEWAY)
    message = str(refused.value)
    assert message.startswith("ENV=production refuses the development defaults: set ")
    assert named in message
    assert not value or value not in message  # names the variable, never the value


def test_gateway_in_production_refuses_a_device_file_with_the_development_token(
    monkeypatch, tmp_path: Path
):
    production_voice_env(monkeypatch)
    monkeypatch.delenv("VOICE_KIOSK_DEVICES")
    devices = tmp_path / "kiosks.yml"
    devices.write_text(f"robot-17: {KIOSK_TOKEN}\n{DEV_KIOSK_DEVICE}: {DEV_KIOSK_TOKEN}\n")
    monkeypatch.setenv("VOICE_KIOSK_DEVICES_FILE", str(devices))
    assert development_defaults(VoiceSettings(), GATEWAY) == ["VOICE_KIOSK_DEVICES_FILE"]
    devices.write_text(f"robot-17: sha256:{digest(KIOSK_TOKEN)}\n")
    assert development_defaults(VoiceSettings(), GATEWAY) == []


def test_gateway_settings_mistakes_are_one_line_each(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("VOICE_PHONE_ALLOWED", "10.0.0.5, 10.1.0.0/16 ::1")
    assert VoiceSettings().phone_allowed == ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]
    monkeypatch.setenv("VOICE_PHONE_ALLOWED", '["192.168.1.0/24"]')
    assert VoiceSettings().phone_allowed == ["192.168.1.0/24"]
    monkeypatch.setenv("VOICE_PHONE_ALLOWED", "10.0.0.x")
    with pytest.raises(ValidationError) as refused:
        VoiceSettings()
    assert startup_problem(refused.value) == (
        "VOICE_PHONE_ALLOWED: '10.0.0.x' is not an IP address or network"
    )
    monkeypatch.delenv("VOICE_PHONE_ALLOWED")
    monkeypatch.setenv("VOICE_KIOSK_DEVICES_FILE", str(tmp_path / "missing.yml"))
    with pytest.raises(ValidationError) as refused:
        VoiceSettings()
    assert "VOICE_KIOSK_DEVICES_FILE: cannot read" in startup_problem(refused.value)
    (tmp_path / "missing.yml").write_text("robot-17: x\n")
    monkeypatch.setenv("VOICE_KIOSK_DEVICES", "{}")
    with pytest.raises(ValidationError, match="not both"):
        VoiceSettings()


# --- kiosk device lists --------------------------------------------------------------


def test_device_lists_take_tokens_or_their_hashes():
    devices = parse_devices({"robot-17": "s3cret-token", "robot-18": f"sha256:{'A' * 64}"})
    assert devices == {"robot-17": digest("s3cret-token"), "robot-18": "a" * 64}
    for bad in (["robot-17"], {"robot 17": "x"}, {"r": ""}, {"r": 5}, {"r": "sha256:abc"}):
        with pytest.raises(DeviceListError):
            parse_devices(bad)


def test_a_device_file_is_read_again_when_it_changes(tmp_path: Path):
    path = tmp_path / "kiosks.yml"
    path.write_text(f"robot-17: sha256:{digest(KIOSK_TOKEN)}\nrobot-18: plain-token-18\n")
    registry = DeviceRegistry(path=path)
    assert registry.check("robot-17", KIOSK_TOKEN) is Verdict.ACCEPTED
    assert registry.check("robot-18", "plain-token-18") is Verdict.ACCEPTED
    assert registry.check("robot-17", "plain-token-18") is Verdict.WRONG_TOKEN
    assert registry.check(DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN) is Verdict.UNKNOWN_DEVICE
    path.write_text('{"robot-17": "sha256:' + digest(KIOSK_TOKEN) + '"}')  # JSON, robot-18 gone
    assert registry.check("robot-18", "plain-token-18") is Verdict.UNKNOWN_DEVICE
    path.write_text("robot-17: [not, a, token]\n")
    with pytest.raises(DeviceListError):  # a broken list lets nobody in
        registry.check("robot-17", KIOSK_TOKEN)
    path.unlink()
    with pytest.raises(DeviceListError):
        registry.check("robot-17", KIOSK_TOKEN)


def test_without_a_list_development_has_one_device_and_production_none(tmp_path: Path):
    assert DeviceRegistry().check(DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN) is Verdict.ACCEPTED
    path = tmp_path / "kiosks.yml"
    path.write_text(f"robot-17: {KIOSK_TOKEN}\n{DEV_KIOSK_DEVICE}: {DEV_KIOSK_TOKEN}\n")
    production = DeviceRegistry(path=path, refuse_dev_token=True)
    assert production.check(DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN) is Verdict.UNKNOWN_DEVICE
    assert production.check("robot-17", KIOSK_TOKEN) is Verdict.ACCEPTED


# --- limits ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    buckets = TokenBuckets(60, 3, clock=clock)  # one a second, three at once
    assert [acquire((buckets, "a")) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert acquire((buckets, "a")) == pytest.approx(1.0)
    assert acquire((buckets, "b")) == 0.0  # every key has its own bucket
    clock.now += 0.5
    assert acquire((buckets, "a")) == pytest.approx(0.5)
    clock.now += 0.5
    assert acquire((buckets, "a")) == 0.0
    clock.now += 3600
    assert [acquire((buckets, "a")) for _ in range(4)][-1] > 0  # refills up to the burst only


def test_a_refused_message_costs_no_token_anywhere():
    clock = Clock()
    senders, sources = TokenBuckets(60, 5, clock=clock), TokenBuckets(60, 2, clock=clock)
    assert acquire((senders, "s1"), (sources, "ip")) == 0.0
    assert acquire((senders, "s2"), (sources, "ip")) == 0.0
    assert acquire((senders, "s3"), (sources, "ip")) > 0  # the address is out
    assert senders.wait("s3") == 0.0 and senders._buckets["s3"].tokens == 5


def test_token_buckets_forget_the_least_recently_used_keys():
    buckets = TokenBuckets(1, 1, max_keys=100, clock=Clock())
    for i in range(1000):
        buckets.take(f"sender-{i}")
    assert len(buckets._buckets) == 100 and "sender-999" in buckets._buckets


def test_zero_per_minute_means_no_limit():
    buckets = TokenBuckets(0, 1)
    assert not buckets.enabled
    assert all(acquire((buckets, "a")) == 0.0 for _ in range(100))


def test_sign_in_lock_after_repeated_failures():
    clock = Clock()
    lock = FailureLock(3, 60, clock=clock)
    assert [lock.failed("ip") for _ in range(2)] == [0.0, 0.0]
    lock.succeeded("ip")  # a right password forgets earlier slips
    assert [lock.failed("ip") for _ in range(3)] == [0.0, 0.0, 60]
    assert lock.locked("ip") == 60 and lock.locked("other") == 0.0
    clock.now += 59
    assert lock.locked("ip") == pytest.approx(1)
    clock.now += 1
    assert lock.locked("ip") == 0.0
    clock.now += 61
    assert lock.failed("ip") == 0.0  # old failures have expired


# --- phone allow-list, problem headers ---------------------------------------------------


def test_phone_allow_list_matches_addresses_and_networks():
    import ipaddress

    networks = [ipaddress.ip_network(n) for n in ("127.0.0.1", "10.1.0.0/16", "fd00::/8")]
    assert allowed("127.0.0.1", networks) and allowed("10.1.200.3", networks)
    assert allowed("::ffff:10.1.0.9", networks)  # IPv4 on a dual-stack socket
    assert allowed("fd00::2", networks)
    assert not allowed("127.0.0.2", networks) and not allowed("10.2.0.1", networks)
    assert not allowed("not-an-address", networks) and not allowed("::1", networks)


def test_http_errors_keep_their_headers():
    app = FastAPI()
    problems.install(app)

    @app.get("/basic")
    async def basic() -> None:
        raise HTTPException(401, "Sign-in required", headers={"WWW-Authenticate": "Basic"})

    @app.get("/slow-down")
    async def slow_down() -> None:
        raise problems.too_many_requests(2.2, "wait")

    client = TestClient(app)
    response = client.get("/basic")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Basic"
    assert response.headers["content-type"] == problems.MEDIA_TYPE
    assert response.json()["title"] == "Sign-in required"
    response = client.get("/slow-down")
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json() == {
        "type": "about:blank",
        "title": "Too many requests",
        "status": 429,
        "detail": "wait",
    }
