"""One settings object for the voice gateway and the phone server.

Values come from the environment (``.env`` via honcho, or scripts/stack.py in
tests). The stack-wide names (VOSK_MODEL_PATH, RASA_URL, RASA_TOKEN,
GATEWAY_*, PHONE_*) are read as they are; everything that only the voice layer
uses is prefixed ``VOICE_`` (for example ``VOICE_TRAILING_SILENCE_MS=1000`` for
a hall where most visitors are elderly).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseSettings, Field, SecretStr, validator

from exchange.core.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET

ROOT = Path(__file__).resolve().parent.parent
# Local development only; set AGENT_PASSWORD wherever real people use the system.
DEV_AGENT_PASSWORD = "dev-only-agent-password-change-me"  # noqa: S105 - documented dev default


class VoiceSettings(BaseSettings):
    # --- where things are -------------------------------------------------
    vosk_model_path: Path = Field(
        ROOT / "models" / "vosk-model-small-cn-0.22", env="VOSK_MODEL_PATH"
    )
    # "auto": pick the grammar word list whose words the model knows best.
    asr_language: str = "auto"
    web_dir: Path = ROOT / "web"
    lexicon_path: Path = Path(__file__).resolve().parent / "lexicon.yml"

    rasa_url: str = Field("http://127.0.0.1:5005", env="RASA_URL")
    rasa_token: str = Field("", env="RASA_TOKEN")
    rasa_timeout_s: float = 15.0

    gateway_host: str = Field("127.0.0.1", env="GATEWAY_HOST")
    gateway_port: int = Field(8080, env="GATEWAY_PORT")
    phone_host: str = Field("127.0.0.1", env="PHONE_HOST")
    phone_port: int = Field(9092, env="PHONE_PORT")

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

    @validator("max_trailing_silence_ms")
    def _max_not_below_default(cls, value: int, values: dict) -> int:
        return max(value, values.get("trailing_silence_ms", value))

    @validator("rasa_url")
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
