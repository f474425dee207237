"""Kiosk robots (and the web widget's microphone): WebSocket ``/v1/kiosk``.

Only frame handling and access control live here; the conversation itself is
a ``VoiceSession``. A client mistake gets an ``error`` message and the
connection stays open. A robot's ``start`` carries its device id and token
(voice/devices.py), checked on every ``start``: a missing, wrong or revoked
token closes the connection (``CLOSE_*`` below) and no session is made.
The conversation Rasa sees is ``kiosk:<device>:<sender>`` for a robot and
``web:<sender>`` for the widget's microphone (voice/conversations.py): the
client's sender never names another device's or channel's conversation.
Messages past the conversation's or source's allowance get a polite ``bot``
message instead of an answer. See voice/PROTOCOL.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from voice import conversations, protocol
from voice.access import Access, address_key, client_address, device_key
from voice.devices import DeviceListError, Verdict
from voice.pipeline import Pipeline
from voice.session import VoiceSession

logger = logging.getLogger(__name__)
router = APIRouter()

FRAME_MS = 100  # size of the audio frames sent to the kiosk
_GONE = (WebSocketDisconnect, ConnectionClosed, RuntimeError, OSError)

# Close codes (4000-4999 are the application's; the last three digits follow HTTP).
CLOSE_TOKEN_REQUIRED = 4401  # channel "kiosk" without device and token
CLOSE_DEVICE_REFUSED = 4403  # unknown or revoked device, or a wrong token
CLOSE_TOO_MANY = 4429  # too many connections from this address
CLOSE_DEVICE_LIST = 1011  # the device list cannot be read (server side)


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

    async def close(self, code: int, reason: str) -> None:
        """Close the connection with a code and reason (at most 123 bytes)."""
        async with self._lock:
            if not self.open:
                return
            self.open = False
            with contextlib.suppress(*_GONE):
                await self.ws.close(code, reason)

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
    def __init__(self, ws: WebSocket, pipeline: Pipeline, access: Access) -> None:
        self.ws = ws
        self.pipeline = pipeline
        self.access = access
        self.settings = pipeline.settings
        self.address = client_address(ws)
        self.device: str | None = None  # set by an accepted start
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
            if await self._allowed(self.session.conversation_id):
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
        # Checked on every start: a robot keeps its connection from one visitor
        # to the next, and a revoked robot must not greet the next one.
        if not await self._authenticated(start):
            return
        try:
            if self.device is not None:
                conversation_id = conversations.kiosk(self.device, start.sender)
            else:
                conversation_id = conversations.web(start.sender)
        except conversations.SenderRefused as error:
            await self._error("bad_message", str(error))
            return  # the conversation so far goes on
        # Busy before the allowance: retrying while busy must not use it up. (A
        # connection with a session frees its own place below.)
        if self.session is None and self.pipeline.full:
            await self._error("busy", "this gateway has no free voice session; try again shortly")
            return
        if not await self._allowed(conversation_id):
            return  # the conversation so far goes on
        # A new start ends the previous conversation's session.
        if self.session is not None:
            await self.session.close()
            self.session = None
        metadata = {"channel": start.channel}
        if self.device is not None:
            metadata["device"] = self.device
            logger.info("kiosk device %s: new conversation", self.device)
        self.session = VoiceSession(
            self.pipeline, conversation_id, self.out, speak=start.speak, metadata=metadata
        )
        self._told_no_asr = False
        await self.out.event(
            protocol.Ready(
                sender=start.sender,
                conversation=conversation_id,
                asr=self.session.asr_available,
                speech_rate=self.pipeline.reply_rate(self.session.conv),
            )
        )

    async def _authenticated(self, start: protocol.Start) -> bool:
        """Whether the start may go on; closes the connection when it may not."""
        if start.device is None and start.token is None and start.channel != "kiosk":
            self.device = None  # the public web widget: limited by address, no device
            return True
        if not start.device or not start.token:
            logger.warning("kiosk connection from %s without a device token: closed", self.address)
            await self.out.close(
                CLOSE_TOKEN_REQUIRED, "device token required: start needs device and token"
            )
            return False
        try:
            verdict = self.access.devices.check(start.device, start.token)
        except DeviceListError as error:
            logger.error("kiosk device list unreadable, connection refused: %s", error)
            await self.out.close(CLOSE_DEVICE_LIST, "device list unavailable; try again later")
            return False
        if verdict is not Verdict.ACCEPTED:
            # The device id only: the token never reaches a log.
            logger.warning(
                "kiosk device %s refused (%s) from %s", start.device, verdict.value, self.address
            )
            await self.out.close(CLOSE_DEVICE_REFUSED, "unknown device or wrong token")
            return False
        self.device = start.device
        return True

    async def _allowed(self, conversation_id: str) -> bool:
        """Take a message from the allowance; past it, a polite message and False."""
        source = device_key(self.device) if self.device else address_key(self.address)
        wait = self.access.message(source=source, sender=conversation_id)
        if not wait:
            return True
        logger.info("kiosk %s: too many messages, %.1f s to wait", self.device or "web", wait)
        await self._error("rate_limited", f"too many messages; wait {math.ceil(wait)} s")
        rate = (
            self.pipeline.reply_rate(self.session.conv)
            if self.session
            else self.settings.speech_rate
        )
        await self.out.event(protocol.Bot(text=self.settings.rate_limit_text, speech_rate=rate))
        return False


@router.websocket("/v1/kiosk")
async def kiosk(ws: WebSocket) -> None:
    await ws.accept()
    access: Access = ws.app.state.access
    handler = KioskHandler(ws, ws.app.state.pipeline, access)
    wait = access.connection(handler.address)
    if wait:
        logger.warning("kiosk connections from %s: too many, closed", handler.address)
        reason = f"too many connections; retry in {math.ceil(wait)} s"
        await handler.out.close(CLOSE_TOO_MANY, reason)
        return
    await handler.run()
