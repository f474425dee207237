"""Phone lines: an Asterisk AudioSocket server.

It runs inside the gateway (``VOICE_PHONE_IN_GATEWAY=true``, what `make run`
does: one speech model in memory for kiosks and phones) or as a process of its
own (``python -m voice.phone``).

Asterisk connects once per call and sends the call's UUID (the conversation is
``phone:<uuid>``, voice/conversations.py)
and then 20 ms frames of 8 kHz audio. Caller audio is upsampled to 16 kHz for
Vosk; replies are synthesised at 8 kHz and sent back in 20 ms frames in real
time. A hangup frame (or closing the socket) ends the call. DTMF keys, when
Asterisk sends them, are typed input: digits followed by # (or a pause).

Only the Asterisk hosts in ``VOICE_PHONE_ALLOWED`` (default: this machine) may
connect; anyone else is closed before a byte is read, and their address logged.

Dialplan (extensions.conf), for calls into the hotline:

    exten => 12345,1,Answer()
     same => n,AudioSocket(${UUID()},127.0.0.1:9092)
     same => n,Hangup()
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import uuid

from voice import audiosocket, conversations, protocol, rasa_client
from voice.audio import Upsampler
from voice.audiosocket import Kind
from voice.pipeline import Pipeline
from voice.session import VoiceSession
from voice.settings import PHONE, VoiceSettings, load_settings, refuse_development_defaults

logger = logging.getLogger(__name__)

FIRST_FRAME_TIMEOUT_S = 5.0
DTMF_IDLE_S = 3.0
ASR_DOWN_TEXT = "语音服务暂时不能使用，请稍后再拨，或者到大厅窗口办理。再见。"
BUSY_TEXT = "现在打电话的人比较多，请您稍后再拨。再见。"


class PhoneOutput:
    sample_rate = audiosocket.SAMPLE_RATE
    frame_bytes = audiosocket.FRAME_BYTES
    lead_s = 0.04  # two frames ahead absorbs scheduling jitter

    def __init__(self, writer: asyncio.StreamWriter, call_id: str, *, one_as_yao: bool) -> None:
        self.writer = writer
        self.call_id = call_id
        self.one_as_yao = one_as_yao
        self.open = True

    async def event(self, message: protocol.ServerMessage) -> None:
        # A phone has no screen. Content stays out of INFO logs (it can hold
        # ID or phone numbers); the redacting filter covers DEBUG too.
        logger.debug("call %s: %s", self.call_id, protocol.to_json(message))

    async def audio(self, pcm: bytes) -> None:
        await self._write(audiosocket.audio_frame(pcm).encode())

    async def end(self, reason: str) -> None:
        logger.info("call %s: hanging up (%s)", self.call_id, reason)
        await self._write(audiosocket.HANGUP.encode())
        self.open = False
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.writer.close()

    async def _write(self, data: bytes) -> None:
        if not self.open:
            return
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.open = False


class PhoneCall:
    def __init__(
        self, pipeline: Pipeline, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.pipeline = pipeline
        self.reader = reader
        self.writer = writer
        self.upsample = Upsampler(2)
        self._dtmf = ""
        self._dtmf_task: asyncio.Task | None = None

    async def run(self) -> None:
        try:
            first = await asyncio.wait_for(
                audiosocket.read_frame(self.reader), FIRST_FRAME_TIMEOUT_S
            )
        except asyncio.TimeoutError:
            first = None
        if first is None or first.kind != Kind.UUID or len(first.payload) != 16:
            logger.warning("AudioSocket connection without a call UUID: closing")
            with contextlib.suppress(ConnectionError, RuntimeError):
                self.writer.write(audiosocket.Frame(Kind.ERROR, b"\x01").encode())
                self.writer.close()
            return
        call_id = str(uuid.UUID(bytes=first.payload))
        settings = self.pipeline.settings
        out = PhoneOutput(self.writer, call_id, one_as_yao=settings.phone_one_as_yao)
        busy = self.pipeline.full
        session = VoiceSession(
            self.pipeline, conversations.phone(call_id), out, metadata={"channel": "phone"}
        )
        logger.info("call %s: connected", call_id)
        try:
            if not session.asr_available or busy:
                await session.say(ASR_DOWN_TEXT if not session.asr_available else BUSY_TEXT)
                await out.end("asr_unavailable" if not session.asr_available else "busy")
                return
            if settings.phone_greeting_payload:
                session.text(settings.phone_greeting_payload)
            await self._frames(session, out)
        finally:
            if self._dtmf_task is not None:
                self._dtmf_task.cancel()
            await session.close()
            if out.open:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    self.writer.close()
            logger.info("call %s: ended", call_id)

    async def _frames(self, session: VoiceSession, out: PhoneOutput) -> None:
        while out.open:
            frame = await audiosocket.read_frame(self.reader)
            if frame is None or frame.kind == Kind.HANGUP:
                return
            if frame.kind == Kind.AUDIO:
                if len(frame.payload) % 2 == 0:
                    session.feed(self.upsample(frame.payload))
            elif frame.kind == Kind.DTMF and frame.payload:
                self._key(session, frame.payload[:1].decode("ascii", "replace"))
            elif frame.kind == Kind.ERROR:
                logger.warning(
                    "call %s: Asterisk reported error %s", out.call_id, frame.payload.hex()
                )
                return

    def _key(self, session: VoiceSession, key: str) -> None:
        if self._dtmf_task is not None:
            self._dtmf_task.cancel()
        if key == "#":
            self._send_keys(session)
            return
        if key.isdigit() or key == "*":
            self._dtmf += key
            self._dtmf_task = asyncio.ensure_future(self._keys_after_pause(session))

    async def _keys_after_pause(self, session: VoiceSession) -> None:
        await asyncio.sleep(DTMF_IDLE_S)
        self._send_keys(session)

    def _send_keys(self, session: VoiceSession) -> None:
        keys, self._dtmf = self._dtmf.replace("*", "X"), ""
        if keys:
            session.text(keys)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed(address: str, networks: list[Network]) -> bool:
    """Whether a peer address is in one of the networks (IPv4-mapped IPv6 counts as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _refuse(writer: asyncio.StreamWriter, address: str) -> None:
    # Before reading a byte: nothing of the stranger's reaches the pipeline.
    logger.warning("AudioSocket connection from %s refused: not in VOICE_PHONE_ALLOWED", address)
    with contextlib.suppress(ConnectionError, RuntimeError, OSError):
        writer.close()


class PhoneServer:
    """The AudioSocket listener on a pipeline it does not own.

    ``python -m voice.phone`` runs it alone; with ``VOICE_PHONE_IN_GATEWAY`` the
    gateway runs it beside the kiosks and the widget, so one process holds one
    copy of the speech model (about 600 MiB) for every transport.
    """

    def __init__(self, pipeline: Pipeline, settings: VoiceSettings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.networks = [ipaddress.ip_network(n) for n in settings.phone_allowed]
        self.calls: set[asyncio.Task] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        s = self.settings
        self.server = await asyncio.start_server(self._handle, s.phone_host, s.phone_port)
        logger.info(
            "AudioSocket server listening on %s:%s, for %s",
            s.phone_host,
            s.phone_port,
            ", ".join(s.phone_allowed) or "nobody (VOICE_PHONE_ALLOWED is empty)",
        )

    async def close(self) -> None:
        """Stop listening and hang up every call still open."""
        if self.server is not None:
            self.server.close()
        for task in list(self.calls):
            task.cancel()
        await asyncio.gather(*self.calls, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not allowed(address, self.networks):
            _refuse(writer, address)
            return
        task = asyncio.current_task()
        assert task is not None
        self.calls.add(task)
        try:
            await PhoneCall(self.pipeline, reader, writer).run()
        finally:
            self.calls.discard(task)


async def serve(
    settings: VoiceSettings | None = None, *, ready: asyncio.Event | None = None
) -> None:
    """The phone line as a process of its own, until SIGTERM or SIGINT."""
    settings = settings or VoiceSettings()
    refuse_development_defaults(settings, PHONE)
    pipeline = await Pipeline.create(settings)
    phone = PhoneServer(pipeline, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await phone.start()
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        await phone.close()
        await pipeline.close()


def main() -> None:
    from common import redact

    settings = load_settings(PHONE)
    redact.install(settings.log_level)
    rasa_client.quiet_request_logs()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
