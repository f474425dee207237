"""The voice gateway: kiosk WebSocket, the widget's HTTP API, and the web widget itself.

With ``VOICE_PHONE_IN_GATEWAY=true`` it also answers the phone line (voice/phone.py)
on PHONE_HOST:PHONE_PORT, from the same pipeline.

``create_app`` builds the FastAPI app; the shared ``Pipeline`` (Vosk model,
Rasa client, TTS workers) is created in the lifespan, so importing this module
loads nothing. ``app.state.access`` holds the kiosk device list and the rate
limits (voice/access.py). ``python -m voice.gateway`` serves it with uvicorn on
GATEWAY_HOST:GATEWAY_PORT; with ``ENV=production`` and a development default
left, it exits at once with one line naming the variables to set.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from voice import agent, chat, kiosk, problems, rasa_client
from voice.access import Access
from voice.phone import PhoneServer
from voice.pipeline import Pipeline
from voice.settings import GATEWAY, VoiceSettings, load_settings, refuse_development_defaults

logger = logging.getLogger(__name__)


def create_app(settings: VoiceSettings | None = None) -> FastAPI:
    settings = settings or VoiceSettings()
    refuse_development_defaults(settings, GATEWAY)  # also when embedded, not only in main()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pipeline = pipeline = await Pipeline.create(settings)
        app.state.phone = PhoneServer(pipeline, settings) if settings.phone_in_gateway else None
        try:
            if app.state.phone is not None:
                await app.state.phone.start()
            yield
        finally:
            if app.state.phone is not None:
                await app.state.phone.close()
            await pipeline.close()

    app = FastAPI(title="Voice gateway", version="1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.access = Access.from_settings(settings)  # kiosk devices, rate limits
    problems.install(app)
    app.include_router(kiosk.router)
    app.include_router(chat.router)
    agent.install(app)  # /agent and /v1/agent/*, password-protected

    @app.get("/health", tags=["ops"])
    async def health(request: Request) -> dict:
        pipeline: Pipeline = request.app.state.pipeline
        return {
            "status": "ok",
            "asr": "ready" if pipeline.asr else "unavailable",
            "asr_model": pipeline.asr.path.name if pipeline.asr else None,
            "asr_language": pipeline.asr.language if pipeline.asr else None,
            "asr_error": pipeline.asr_error,
            "tts_voice": pipeline.tts.voice_id,
            "phone_line": request.app.state.phone is not None,
        }

    # Last, so API routes win: the widget and agent view (built in web/).
    if settings.web_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    return app


def main() -> None:
    import uvicorn

    from common import redact

    settings = load_settings(GATEWAY)
    redact.install(settings.log_level)
    rasa_client.quiet_request_logs()
    # We choose uvicorn's legacy websockets protocol on purpose (see below).
    warnings.filterwarnings("ignore", message=".*websockets.* implementation is deprecated")
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,  # keep the root logger (and its redacting filter)
        # uvicorn's "auto" picks its sans-I/O protocol, which needs websockets>=13;
        # Rasa pins websockets<11, whose legacy protocol uvicorn still supports.
        ws="websockets",
        ws_max_size=max(1 << 20, settings.max_frame_bytes * 4),
    )


if __name__ == "__main__":
    main()
