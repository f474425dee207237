"""Kiosk robots (and the web widget's microphone): WebSocket ``/v1/kiosk``.

Only frame handling lives here; the conversation itself is a ``VoiceSession``.
A client mistake gets an ``error`` message and the connection stays open.
See voice/PROTOCOL.md.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from voice import protocol
from voice.pipeline import Pipeline
from voice.session import VoiceSession

logger = logging.getLogger(__name__)
router = APIRouter()

FRAME_MS = 100  # size of the audio frames sent to the kiosk
_GONE = (WebSocketDisconnect, ConnectionClosed, RuntimeError, OSError)


class KioskOutput:
    sample_rate = protocol.KIOSK_SAMPLE_RATE
    frame_bytes = 2 * protocol.KIOSK_SAMPLE_RATE * FRAME_MS // 1000

    def __init__(self, ws: WebSocket, *, lead_s: float, one_as_yao: bool) -> None:
        self.ws = ws
        self.lead_s = lead_s
        self.one_as_yao = one_as_yao
        self.open = True
        self._lock = asyncio.Lock()  # one sender at a time on the socket

    async def event(self, message: protocol.ServerMessage) -> None:
        await self._send(text=protocol.to_json(message))

    async def audio(self, pcm: bytes) -> None:
        await self._send(data=pcm)

    async def end(self, reason: str) -> None:
        await self.event(protocol.SessionEnd(reason=reason))

    async def _send(self, *, text: str | None = None, data: bytes | None = None) -> None:
        if not self.open:
            return
        async with self._lock:
            try:
                if text is not None:
                    await self.ws.send_text(text)
                else:
                    await self.ws.send_bytes(data or b"")
            except _GONE:
                self.open = False


class KioskHandler:
    def __init__(self, ws: WebSocket, pipeline: Pipeline) -> None:
        self.ws = ws
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.out = KioskOutput(
            ws,
            lead_s=self.settings.kiosk_audio_lead_ms / 1000,
            one_as_yao=self.settings.kiosk_one_as_yao,
        )
        self.session: VoiceSession | None = None
        self._told_no_asr = False

    async def run(self) -> None:
        try:
            while self.out.open:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    await self._audio(message["bytes"])
                elif message.get("text") is not None:
                    await self._message(message["text"])
        except _GONE:
            pass
        finally:
            self.out.open = False
            if self.session is not None:
                await self.session.close()

    async def _error(self, code: str, message: str) -> None:
        await self.out.event(protocol.Error(code=code, message=message))

    async def _audio(self, pcm: bytes) -> None:
        if self.session is None:
            await self._error("not_started", "send a start message before audio")
        elif len(pcm) > self.settings.max_frame_bytes:
            await self._error(
                "frame_too_large",
                f"audio frames must be at most {self.settings.max_frame_bytes} bytes",
            )
        elif len(pcm) % 2:
            await self._error("bad_audio", "audio must be 16-bit samples (an even number of bytes)")
        elif not self.session.asr_available:
            if not self._told_no_asr:
                self._told_no_asr = True
                await self._error(
                    "asr_unavailable",
                    "speech recognition is not available on this gateway; send text instead",
                )
        else:
            self.session.feed(pcm)

    async def _message(self, raw: str) -> None:
        try:
            message = protocol.parse_client(raw)
        except protocol.ProtocolError as error:
            await self._error(error.code, error.message)
            return
        if isinstance(message, protocol.Start):
            await self._start(message)
        elif self.session is None:
            await self._error("not_started", f"send a start message before {message.type}")
        elif isinstance(message, protocol.Text):
            self.session.text(message.text)
        elif isinstance(message, protocol.EndOfAudio):
            if not self.session.asr_available:
                self._told_no_asr = False
                await self._error(
                    "asr_unavailable", "speech recognition is not available on this gateway"
                )
            else:
                self.session.end_of_audio()

    async def _start(self, start: protocol.Start) -> None:
        # A robot keeps its connection from one visitor to the next: a new start
        # ends the previous conversation's session.
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.pipeline.full:
            await self._error("busy", "this gateway has no free voice session; try again shortly")
            return
        self.session = VoiceSession(self.pipeline, start.sender, self.out, speak=start.speak)
        self._told_no_asr = False
        await self.out.event(
            protocol.Ready(
                sender=start.sender,
                asr=self.session.asr_available,
                speech_rate=self.pipeline.reply_rate(self.session.conv),
            )
        )


@router.websocket("/v1/kiosk")
async def kiosk(ws: WebSocket) -> None:
    await ws.accept()
    await KioskHandler(ws, ws.app.state.pipeline).run()
