"""A test caller for the AudioSocket server: plays a WAV file like Asterisk would.

    python -m voice.phone_client --port 9092 question.wav --listen 10 --out reply.wav

It sends the call UUID, then the WAV as 8 kHz 20 ms frames in real time
(followed by silence, as a quiet phone line), records the audio that comes
back with its arrival times, and hangs up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

from voice import audio, audiosocket
from voice.audiosocket import Kind


@dataclass
class Received:
    pcm: bytearray = field(default_factory=bytearray)
    # (monotonic arrival time, byte offset in pcm) of every frame
    frames: list[tuple[float, int]] = field(default_factory=list)
    hung_up_at: float | None = None
    errors: list[bytes] = field(default_factory=list)

    def first_audio_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.frames if t >= moment), None)

    def bursts(self, gap_s: float = 0.3) -> list[tuple[float, bytes]]:
        """Audio split where nothing arrived for ``gap_s``: one burst per spoken reply."""
        out: list[tuple[float, bytes]] = []
        start_t, start_off, last_t = None, 0, 0.0
        for t, off in self.frames:
            if start_t is None:
                start_t, start_off = t, off
            elif t - last_t > gap_s:
                out.append((start_t, bytes(self.pcm[start_off:off])))
                start_t, start_off = t, off
            last_t = t
        if start_t is not None:
            out.append((start_t, bytes(self.pcm[start_off:])))
        return out


class PhoneCaller:
    def __init__(self, host: str, port: int, call_id: uuid.UUID | None = None) -> None:
        self.host, self.port = host, port
        self.call_id = call_id or uuid.uuid4()
        self.received = Received()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> PhoneCaller:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(audiosocket.uuid_frame(self.call_id).encode())
        await self._writer.drain()
        self._task = asyncio.ensure_future(self._receive())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hangup()

    async def _receive(self) -> None:
        assert self._reader is not None
        while True:
            frame = await audiosocket.read_frame(self._reader)
            now = time.monotonic()
            if frame is None or frame.kind == Kind.HANGUP:
                self.received.hung_up_at = now
                return
            if frame.kind == Kind.AUDIO:
                self.received.frames.append((now, len(self.received.pcm)))
                self.received.pcm.extend(frame.payload)
            elif frame.kind == Kind.ERROR:
                self.received.errors.append(frame.payload)

    @property
    def hung_up(self) -> bool:
        return self.received.hung_up_at is not None

    async def play(self, pcm8k: bytes, *, realtime: bool = True) -> float:
        """Send 8 kHz PCM as 20 ms frames; returns when the last frame went."""
        assert self._writer is not None
        started, sent = time.monotonic(), 0.0
        frame_s = audiosocket.FRAME_MS / 1000
        for chunk in audio.chunks(pcm8k, audiosocket.FRAME_BYTES):
            if self.hung_up:
                break
            if realtime:
                delay = started + sent - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            chunk = chunk.ljust(audiosocket.FRAME_BYTES, b"\0")
            self._writer.write(audiosocket.audio_frame(chunk).encode())
            await self._writer.drain()
            sent += frame_s
        return time.monotonic()

    async def silence(self, seconds: float) -> float:
        return await self.play(audio.silence(seconds, audiosocket.SAMPLE_RATE))

    async def dtmf(self, keys: str) -> None:
        assert self._writer is not None
        for key in keys:
            self._writer.write(audiosocket.Frame(Kind.DTMF, key.encode("ascii")).encode())
        await self._writer.drain()

    async def hangup(self) -> None:
        if self._writer is None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if not self.hung_up:
                self._writer.write(audiosocket.HANGUP.encode())
                await self._writer.drain()
            self._writer.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 2)
        self._writer = None


async def _main(args: argparse.Namespace) -> None:
    pcm, _ = audio.read_wav(args.wav.read(), audiosocket.SAMPLE_RATE)
    async with PhoneCaller(args.host, args.port) as caller:
        print(f"call {caller.call_id}")
        await caller.silence(args.wait_greeting)
        await caller.play(pcm)
        await caller.silence(args.listen)
    heard = audio.duration_s(bytes(caller.received.pcm), audiosocket.SAMPLE_RATE)
    print(f"received {heard:.1f} s of audio in {len(caller.received.bursts())} replies")
    if args.out:
        args.out.write(audio.wav_bytes(bytes(caller.received.pcm), audiosocket.SAMPLE_RATE))


def main() -> None:
    parser = argparse.ArgumentParser(description="Call the AudioSocket server and play a WAV file.")
    parser.add_argument("wav", type=argparse.FileType("rb"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--wait-greeting", type=float, default=4.0, help="seconds of silence first")
    parser.add_argument(
        "--listen", type=float, default=8.0, help="seconds of silence after the WAV"
    )
    parser.add_argument("--out", type=argparse.FileType("wb"), help="write everything heard here")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
