"""A kiosk client: plays a WAV into ``/v1/kiosk`` and records what comes back.

Used by the tests and benchmarks, and by people checking a gateway by hand:

    python -m voice.kiosk_client --url ws://127.0.0.1:8080/v1/kiosk question.wav --out reply.wav

It signs in as the development device unless told otherwise (``--device`` and
the token in ``KIOSK_TOKEN``, so it stays out of the shell history and ``ps``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import websockets

from voice import audio
from voice.devices import DEV_KIOSK_DEVICE, DEV_KIOSK_TOKEN

SAMPLE_RATE = 16000


@dataclass
class Playback:
    kind: str
    sample_rate: int
    started_at: float  # monotonic time of audio_start
    pcm: bytearray = field(default_factory=bytearray)
    first_audio_at: float | None = None
    ended: bool = False
    interrupted: bool = False


class KioskClient:
    def __init__(
        self,
        url: str,
        *,
        device: str | None = DEV_KIOSK_DEVICE,
        token: str | None = DEV_KIOSK_TOKEN,
        channel: str = "kiosk",
    ) -> None:
        self.url = url
        self.device = device
        self.token = token
        self.channel = channel
        # Set when the gateway closed the connection (e.g. 4403: device refused).
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.events: list[dict] = []
        self.event_times: list[float] = []
        self.playbacks: list[Playback] = []
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> KioskClient:
        self._ws = await websockets.connect(self.url, max_size=2**24, ping_interval=None)
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            await self._read_messages()
        except websockets.ConnectionClosed:
            pass  # the gateway closed it: close_code and close_reason say why
        finally:
            self.close_code, self.close_reason = self._ws.close_code, self._ws.close_reason
            async with self._changed:
                self._changed.notify_all()

    async def _read_messages(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            now = time.monotonic()
            if isinstance(message, bytes):
                if self.playbacks and not self.playbacks[-1].ended:
                    playback = self.playbacks[-1]
                    if playback.first_audio_at is None:
                        playback.first_audio_at = now
                    playback.pcm.extend(message)
            else:
                event = json.loads(message)
                self.events.append(event)
                self.event_times.append(now)
                if event["type"] == "audio_start":
                    self.playbacks.append(
                        Playback(event.get("kind", "reply"), event["sample_rate"], now)
                    )
                elif event["type"] == "audio_end" and self.playbacks:
                    self.playbacks[-1].ended = True
                    self.playbacks[-1].interrupted = bool(event.get("interrupted"))
            async with self._changed:
                self._changed.notify_all()

    # --- sending -----------------------------------------------------------------

    async def send(self, message: dict) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message, ensure_ascii=False))

    async def send_raw(self, data: str | bytes) -> None:
        assert self._ws is not None
        await self._ws.send(data)

    async def start(self, sender: str | None = None, **extra: object) -> dict:
        sender = sender or f"kiosk-{uuid.uuid4().hex[:12]}"
        mark = len(self.events)
        credentials = {"device": self.device, "token": self.token} if self.device else {}
        await self.send(
            {
                "type": "start",
                "sender": sender,
                "sample_rate": SAMPLE_RATE,
                "channel": self.channel,
                **credentials,
                **extra,
            }
        )
        return await self.wait_for(lambda e: e["type"] in ("ready", "error"), after=mark)

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Wait until the gateway closes the connection; its close code and reason."""
        assert self._reader is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code, self.close_reason

    async def text(self, text: str) -> None:
        await self.send({"type": "text", "text": text})

    async def end_of_audio(self) -> None:
        await self.send({"type": "end_of_audio"})

    async def stream(self, pcm: bytes, *, realtime: bool = True, chunk_ms: int = 100) -> float:
        """Send 16 kHz PCM in chunks (in real time by default); when the last chunk went."""
        assert self._ws is not None
        size = 2 * SAMPLE_RATE * chunk_ms // 1000
        started = time.monotonic()
        sent = 0.0
        for chunk in audio.chunks(pcm, size):
            if realtime:
                delay = started + sent - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self._ws.send(chunk)
            sent += audio.duration_s(chunk, SAMPLE_RATE)
        return time.monotonic()

    # --- waiting -------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[dict], bool], *, timeout: float = 30.0, after: int = 0
    ) -> dict:
        """The first event (from index ``after``) that matches, waiting for it if needed."""

        def found() -> dict | None:
            return next((e for e in self.events[after:] if predicate(e)), None)

        async def wait() -> dict:
            async with self._changed:
                while (event := found()) is None:
                    self._check_open()
                    await self._changed.wait()
                return event

        return await asyncio.wait_for(wait(), timeout)

    async def wait_playback(
        self, *, kind: str = "reply", timeout: float = 30.0, after: int = 0
    ) -> Playback:
        async def wait() -> Playback:
            async with self._changed:
                while True:
                    done = [p for p in self.playbacks[after:] if p.kind == kind and p.ended]
                    if done:
                        return done[0]
                    self._check_open()
                    await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout)

    def _check_open(self) -> None:
        if self._reader is not None and self._reader.done():
            raise ConnectionError("the gateway closed the connection")

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


async def _main(args: argparse.Namespace) -> None:
    pcm, _ = audio.read_wav(args.wav.read(), SAMPLE_RATE)
    dev_token = DEV_KIOSK_TOKEN if args.device == DEV_KIOSK_DEVICE else ""
    token = os.environ.get("KIOSK_TOKEN", dev_token)
    async with KioskClient(args.url, device=args.device, token=token) as client:
        print(await client.start(args.sender))
        await client.stream(pcm + audio.silence(1.5, SAMPLE_RATE))
        await client.wait_playback(timeout=args.timeout)
        for event in client.events:
            print(json.dumps(event, ensure_ascii=False))
        reply = b"".join(bytes(p.pcm) for p in client.playbacks)
        if args.out:
            args.out.write(audio.wav_bytes(reply, SAMPLE_RATE))


def main() -> None:
    parser = argparse.ArgumentParser(description="Play a WAV file into the kiosk WebSocket.")
    parser.add_argument("wav", type=argparse.FileType("rb"))
    parser.add_argument("--url", default="ws://127.0.0.1:8080/v1/kiosk")
    parser.add_argument("--sender", default=None)
    parser.add_argument(
        "--device", default=DEV_KIOSK_DEVICE, help="kiosk device id; its token from KIOSK_TOKEN"
    )
    parser.add_argument("--out", type=argparse.FileType("wb"), help="write the spoken reply here")
    parser.add_argument("--timeout", type=float, default=30.0)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
