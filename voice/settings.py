"""One settings object for the voice gateway and the phone server.

Values come from the environment (``.env`` via honcho, or scripts/stack.py in
tests). The stack-wide names (ENV, VOSK_MODEL_PATH, RASA_URL, RASA_TOKEN,
GATEWAY_*, PHONE_*, AGENT_PASSWORD, EXCHANGE_*) are read as they are;
everything that only the voice layer uses is prefixed ``VOICE_`` (for example
``VOICE_TRAILING_SILENCE_MS=1000`` for a hall where most visitors are elderly).

``ENV=production`` refuses every development default a program uses (the
gateway: the agent password, the Rasa token, the exchange secret, the built-in
kiosk device; the phone server: the Rasa token): ``load_settings`` exits with
one sentence naming the variables to set.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseSettings, Field, SecretStr, ValidationError, validator
from pydantic.env_settings import SettingsError

from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from voice.devices import parse_devices, read_device_file, uses_dev_token

ROOT = Path(__file__).resolve().parent.parent
# Local development only; ENV=production refuses them.
DEV_AGENT_PASSWORD = "dev-only-agent-password-change-me"  # noqa: S105 - documented dev default
# scripts/stack.py gives it to a development stack.
DEV_RASA_TOKEN = "dev-only-rasa-token-change-me"  # noqa: S105 - documented dev default
Environment = Literal["development", "test", "production"]


class VoiceSettings(BaseSettings):
    # --- where things are -------------------------------------------------
    vosk_model_path: Path = Field(
        ROOT / "models" / "vosk-model-small-cn-0.22", env="VOSK_MODEL_PATH"
    )
    # "auto": pick the grammar word list whose words the model knows best.
    asr_language: str = "auto"
    web_dir: Path = ROOT / "web"
    lexicon_path: Path = Path(__file__).resolve().parent / "lexicon.yml"

    # development | test | production; production refuses the development defaults.
    environment: Environment = Field("development", env="ENV")
    # The one switch the team on call turns for every process (Rasa reads it too).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", env="LOG_LEVEL")

    rasa_url: str = Field("http://127.0.0.1:5005", env="RASA_URL")
    rasa_token: str = Field("", env="RASA_TOKEN")
    rasa_timeout_s: float = 15.0

    gateway_host: str = Field("127.0.0.1", env="GATEWAY_HOST")
    gateway_port: int = Field(8080, env="GATEWAY_PORT")
    phone_host: str = Field("127.0.0.1", env="PHONE_HOST")
    phone_port: int = Field(9092, env="PHONE_PORT")
    # Who may connect to the AudioSocket server (the Asterisk hosts): addresses or
    # networks, as JSON or separated by commas. Anyone else is closed at once.
    phone_allowed: list[str] = ["127.0.0.1", "::1"]
    # The gateway answers the phone line too (`make run` turns this on): kiosks,
    # widget and phones then share one speech model in memory instead of two.
    # Off, the phone line is its own process (`python -m voice.phone`).
    phone_in_gateway: bool = False

    # --- who may use the gateway ---------------------------------------------------
    # Kiosk robots: a YAML/JSON file of device id -> token (or "sha256:<hex>"),
    # read again on every kiosk start (removing a robot revokes it), or the mapping
    # as JSON here. Neither: one development device (voice/devices.py).
    kiosk_devices: dict[str, str] | None = None
    kiosk_devices_file: Path | None = None  # after kiosk_devices: its check reads that
    # Messages (chat, kiosk start/text) per sender and per client address (per
    # device for kiosk robots): a token bucket refilled at this many per minute,
    # holding at most the burst. 0 per minute: no limit.
    rate_limit_per_minute: float = Field(30, ge=0)
    rate_limit_burst: int = Field(10, ge=1, le=10_000)
    rate_limit_ip_per_minute: float = Field(120, ge=0)
    rate_limit_ip_burst: int = Field(60, ge=1, le=100_000)
    rate_limit_text: str = "您说得太快了，请稍等一下再说。"
    # The agent view's sign-in: this many wrong passwords from one address lock
    # it out for the minutes below.
    agent_max_failures: int = Field(5, ge=1, le=1000)
    agent_lock_minutes: float = Field(15, gt=0, le=24 * 60)

    # --- listening --------------------------------------------------------
    # Silence after speech that ends a turn. Elderly speakers pause longer
    # mid-sentence; halls with many of them raise this, and each caller's own
    # pauses raise it further up to max_trailing_silence_ms (see adapt.py).
    trailing_silence_ms: int = Field(700, ge=200, le=5000)
    max_trailing_silence_ms: int = Field(1600, ge=200, le=8000)
    vad_aggressiveness: int = Field(2, ge=0, le=3)
    min_speech_ms: int = Field(200, ge=60, le=2000)
    pre_roll_ms: int = Field(400, ge=0, le=2000)
    max_utterance_s: float = Field(20.0, gt=1, le=120)
    # Voiced audio while the robot speaks that interrupts it (barge-in).
    barge_in_ms: int = Field(300, ge=60, le=3000)
    # A grammar answer below this mean word confidence is decoded again with
    # the open model.
    grammar_min_confidence: float = Field(0.6, ge=0, le=1)
    digit_slots: list[str] = ["id_number", "phone_last4", "application_number"]
    yes_no_slots: list[str] = ["confirmation"]
    asr_executor_size: int = Field(2, ge=1, le=32)
    # Spoken sessions one process takes at once; more get "busy" (kiosk) or a
    # polite message (phone) instead of everyone getting slow answers. Size it
    # from `make bench-voice` (see reports/bench/voice.md) for the model in use.
    max_sessions: int = Field(8, ge=1, le=1000)
    max_frame_bytes: int = Field(64_000, ge=640, le=1_048_576)

    # --- adapting to the caller ----------------------------------------------
    adapt_after_turns: int = Field(2, ge=1, le=20)
    # Below this many syllables per second of voiced speech a caller is slow.
    slow_syllables_per_s: float = 3.0
    slow_pause_ms: int = 450

    # --- speaking -----------------------------------------------------------
    tts_voice: str = "cmn-latn-pinyin"
    tts_workers: int = Field(1, ge=1, le=8)
    tts_cache_size: int = Field(256, ge=0, le=10_000)
    # espeak words per minute: 175 is its normal pace; older listeners
    # follow a slower one better, and "说慢一点" lowers it per conversation.
    speech_rate: int = Field(145, ge=60, le=300)
    speech_rate_step: int = Field(20, ge=5, le=80)
    min_speech_rate: int = Field(90, ge=40, le=300)
    # Read 1 as 幺 in digit strings (phone lines always do; kiosks may too).
    kiosk_one_as_yao: bool = False
    phone_one_as_yao: bool = True
    # How far ahead of real time kiosk audio is sent (the client buffers it).
    kiosk_audio_lead_ms: int = Field(300, ge=0, le=5000)

    # --- keeping the line alive --------------------------------------------
    filler_delay_ms: int = Field(750, ge=0, le=10_000)
    filler_text: str = "好的，我查一下。"
    reprompt_seconds: float = Field(8.0, gt=0, le=120)
    reprompt_offer_text: str = "我还是没有听到您说话。需要人工帮您办理，请说：人工服务。"
    goodbye_text: str = "那我先不打扰您了。需要时再找我，再见。"
    human_handoff_title: str = "转人工服务"
    human_handoff_payload: str = "/request_human"
    # Sent to Rasa when a phone call starts, so the bot greets the caller.
    phone_greeting_payload: str = "/greet"

    # --- agent view (voice/agent.py): staff password, the exchange's handover queue
    agent_password: SecretStr = Field(DEV_AGENT_PASSWORD, env="AGENT_PASSWORD")
    exchange_url: str = Field("http://127.0.0.1:8100", env="EXCHANGE_URL")
    exchange_client_id: str = Field(DEV_CLIENT_ID, env="EXCHANGE_CLIENT_ID")
    exchange_client_secret: SecretStr = Field(DEV_CLIENT_SECRET, env="EXCHANGE_CLIENT_SECRET")
    exchange_timeout_s: float = Field(3.0, gt=0, le=30)

    class Config:
        env_prefix = "VOICE_"
        env_file = None

        @classmethod
        def parse_env_var(cls, field_name: str, raw_val: str) -> Any:
            # VOICE_PHONE_ALLOWED=10.0.0.5,10.1.0.0/16 as well as JSON.
            if field_name == "phone_allowed" and not raw_val.lstrip().startswith("["):
                return [item for item in raw_val.replace(",", " ").split() if item]
            return cls.json_loads(raw_val)

    @validator("environment", pre=True)
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @validator("log_level", pre=True)
    def _uppercase(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @validator("phone_allowed", each_item=True)
    def _network(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None

    @validator("kiosk_devices")
    def _devices(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            parse_devices(value)  # a ValueError names the problem
        return value

    @validator("kiosk_devices_file")
    def _device_file(cls, value: Path | None, values: dict) -> Path | None:
        if value is not None:
            if values.get("kiosk_devices") is not None:
                raise ValueError("set VOICE_KIOSK_DEVICES_FILE or VOICE_KIOSK_DEVICES, not both")
            read_device_file(value)  # fail at start-up, not on the first robot
        return value

    @validator("max_trailing_silence_ms")
    def _max_not_below_default(cls, value: int, values: dict) -> int:
        return max(value, values.get("trailing_silence_ms", value))

    @validator("rasa_url")
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


GATEWAY = "voice gateway"
PHONE = "phone server"


class DevelopmentDefaults(ValueError):
    """ENV=production with a development default left that the program uses."""


def development_defaults(settings: VoiceSettings, program: str) -> list[str]:
    """The variables ``program`` uses that still hold development defaults, in production.

    Each program checks what it uses: the phone server needs no agent password,
    exchange secret or kiosk list, so its host need not hold them.
    """
    if settings.environment != "production":
        return []
    to_set = []
    if program == GATEWAY and settings.agent_password.get_secret_value() == DEV_AGENT_PASSWORD:
        to_set.append("AGENT_PASSWORD")
    if settings.rasa_token in ("", DEV_RASA_TOKEN):
        to_set.append("RASA_TOKEN")
    if program == GATEWAY:
        if settings.exchange_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
            to_set.append("EXCHANGE_CLIENT_SECRET")
        path, inline = settings.kiosk_devices_file, settings.kiosk_devices
        if path is None and inline is None:
            to_set.append("VOICE_KIOSK_DEVICES_FILE (or VOICE_KIOSK_DEVICES)")
        elif uses_dev_token(read_device_file(path) if path else parse_devices(inline)):
            to_set.append("VOICE_KIOSK_DEVICES_FILE" if path else "VOICE_KIOSK_DEVICES")
    return to_set


def refuse_development_defaults(settings: VoiceSettings, program: str) -> None:
    """``DevelopmentDefaults`` naming what to set, when production still has any."""
    if names := development_defaults(settings, program):
        raise DevelopmentDefaults(production_refusal(names))


def production_refusal(names: list[str]) -> str:
    """One sentence naming the variables that still hold development defaults."""
    if len(names) == 1:
        return f"ENV=production refuses the development defaults: set {names[0]} to your own value."
    listed = f"{', '.join(names[:-1])} and {names[-1]}"
    return f"ENV=production refuses the development defaults: set {listed} to your own values."


def load_settings(program: str) -> VoiceSettings:
    """The settings ``program`` can run with, or exit with one line saying what to fix."""
    try:
        settings = VoiceSettings()
        refuse_development_defaults(settings, program)
    except (ValidationError, SettingsError) as error:
        raise SystemExit(f"{program} not started: {startup_problem(error)}") from None
    except DevelopmentDefaults as error:
        raise SystemExit(f"{program} not started: {error}") from None
    return settings


def startup_problem(error: ValidationError | SettingsError) -> str:
    """The settings error as plain sentences (never a secret), for the start-up message."""
    if isinstance(error, SettingsError):
        return f"{error}: it must be JSON."
    fields = getattr(error.model, "__fields__", {})
    parts = []
    for item in error.errors():
        field = fields.get(item["loc"][0])
        if field is None:  # a check across fields: its message names the variables
            parts.append(item["msg"])
        else:
            variable = next(iter(field.field_info.extra.get("env_names", [field.name])))
            parts.append(f"{variable.upper()}: {item['msg']}")
    return "; ".join(parts)
