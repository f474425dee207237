"""Voice activity detection and end-of-turn detection with webrtcvad.

``Endpointer`` turns a continuous 16 kHz stream into utterances: it says when
speech starts (with some audio from just before, so the first syllable is not
cut), passes the utterance audio on, and says when the speaker has been quiet
for ``trailing_silence_ms``. It also measures the pauses inside the utterance,
which adapt.py uses to tell slow speakers from fast ones.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import webrtcvad

FRAME_MS = 30
# Silences shorter than this inside an utterance are not counted as pauses
# (they are stop consonants and breath, not the speaker stopping to think).
MIN_PAUSE_MS = 150


@dataclass(frozen=True)
class SpeechStart:
    at_ms: int  # stream position of the first voiced frame
    pre_roll: bytes  # audio just before and at the start, to feed the recogniser


@dataclass(frozen=True)
class SpeechAudio:
    pcm: bytes


@dataclass(frozen=True)
class SpeechEnd:
    at_ms: int  # stream position just after the last voiced frame
    started_ms: int
    voiced_ms: int
    pauses_ms: tuple[int, ...] = field(default_factory=tuple)
    forced: bool = False  # end_of_audio, or the utterance got too long

    @property
    def duration_ms(self) -> int:
        return self.at_ms - self.started_ms


VadEvent = SpeechStart | SpeechAudio | SpeechEnd


class Endpointer:
    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        aggressiveness: int = 2,
        min_speech_ms: int = 200,
        trailing_silence_ms: int = 700,
        pre_roll_ms: int = 400,
        max_utterance_ms: int = 20_000,
    ) -> None:
        self.sample_rate = sample_rate
        self.trailing_silence_ms = trailing_silence_ms
        self.min_speech_ms = min_speech_ms
        self.max_utterance_ms = max_utterance_ms
        self._vad = webrtcvad.Vad(aggressiveness)
        self._frame_bytes = 2 * sample_rate * FRAME_MS // 1000
        self._pending = b""
        self._position_ms = 0
        window = max(1, (min_speech_ms + 120) // FRAME_MS)
        self._window: collections.deque[bool] = collections.deque(maxlen=window)
        self._ring: collections.deque[tuple[bytes, bool]] = collections.deque(
            maxlen=window + max(0, pre_roll_ms // FRAME_MS)
        )
        self._reset_utterance()
        self.in_speech = False

    @property
    def position_ms(self) -> int:
        return self._position_ms

    @property
    def voiced_ms(self) -> int:
        """Voiced audio so far in the current utterance (0 outside speech)."""
        return self._voiced_ms if self.in_speech else 0

    def _reset_utterance(self) -> None:
        self.in_speech = False
        self._started_ms = 0
        self._voiced_ms = 0
        self._silence_run_ms = 0
        self._pauses: list[int] = []
        self._window.clear()

    def process(self, pcm: bytes) -> list[VadEvent]:
        events: list[VadEvent] = []
        data = self._pending + pcm
        usable = len(data) - len(data) % self._frame_bytes
        self._pending = data[usable:]
        for offset in range(0, usable, self._frame_bytes):
            frame = data[offset : offset + self._frame_bytes]
            voiced = self._vad.is_speech(frame, self.sample_rate)
            self._position_ms += FRAME_MS
            events.extend(self._step(frame, voiced))
        return events

    def _step(self, frame: bytes, voiced: bool) -> list[VadEvent]:
        if not self.in_speech:
            self._ring.append((frame, voiced))
            self._window.append(voiced)
            if sum(self._window) * FRAME_MS < self.min_speech_ms:
                return []
            # Speech: start at the first voiced frame of the window.
            frames = list(self._ring)
            first_voiced = len(frames) - len(self._window) + list(self._window).index(True)
            self.in_speech = True
            self._started_ms = self._position_ms - (len(frames) - first_voiced) * FRAME_MS
            self._voiced_ms = sum(self._window) * FRAME_MS
            self._silence_run_ms = 0
            self._ring.clear()
            return [SpeechStart(self._started_ms, b"".join(f for f, _ in frames))]

        events: list[VadEvent] = [SpeechAudio(frame)]
        if voiced:
            if self._silence_run_ms >= MIN_PAUSE_MS:
                self._pauses.append(self._silence_run_ms)
            self._silence_run_ms = 0
            self._voiced_ms += FRAME_MS
        else:
            self._silence_run_ms += FRAME_MS
        if self._silence_run_ms >= self.trailing_silence_ms:
            events.append(self._end(forced=False))
        elif self._position_ms - self._started_ms >= self.max_utterance_ms:
            events.append(self._end(forced=True))
        return events

    def _end(self, *, forced: bool) -> SpeechEnd:
        end = SpeechEnd(
            at_ms=self._position_ms - self._silence_run_ms,
            started_ms=self._started_ms,
            voiced_ms=self._voiced_ms,
            pauses_ms=tuple(self._pauses),
            forced=forced,
        )
        self._reset_utterance()
        return end

    def flush(self) -> SpeechEnd | None:
        """End the current utterance now (the client said end_of_audio)."""
        self._pending = b""
        if not self.in_speech:
            self._window.clear()
            return None
        return self._end(forced=True)
