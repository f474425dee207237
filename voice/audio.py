"""16-bit mono PCM helpers: resampling, WAV in/out, levels.

Whole buffers (one synthesized sentence) are resampled with scipy's polyphase
filter; the phone's continuous 8 kHz stream goes through ``Upsampler``, which
keeps its filter state between 20 ms frames so frame edges leave no clicks.
"""

from __future__ import annotations

import io
import math
import wave
from fractions import Fraction

import numpy as np
from scipy import signal

SAMPLE_WIDTH = 2


def duration_s(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / (SAMPLE_WIDTH * sample_rate)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2")


def rms_dbfs(pcm: bytes) -> float:
    """Level relative to full scale; -inf for digital silence."""
    data = samples(pcm).astype(np.float64)
    if data.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(data * data)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    if src_rate == dst_rate or not pcm:
        return pcm
    ratio = Fraction(dst_rate, src_rate)
    out = signal.resample_poly(samples(pcm).astype(np.float32), ratio.numerator, ratio.denominator)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


class Upsampler:
    """Streaming integer-factor upsampler (8 kHz phone audio -> 16 kHz for Vosk)."""

    def __init__(self, factor: int = 2, taps: int = 48) -> None:
        self.factor = factor
        self._fir = signal.firwin(taps, 1.0 / factor) * factor
        self._state = np.zeros(taps - 1)

    def __call__(self, pcm: bytes) -> bytes:
        data = samples(pcm).astype(np.float64)
        stuffed = np.zeros(data.size * self.factor)
        stuffed[:: self.factor] = data
        out, self._state = signal.lfilter(self._fir, 1.0, stuffed, zi=self._state)
        return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def read_wav(data: bytes | str, sample_rate: int | None = None) -> tuple[bytes, int]:
    """PCM and rate of a 16-bit WAV (mono, or the first channel), optionally resampled."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    with wave.open(source, "rb") as wav:
        if wav.getsampwidth() != SAMPLE_WIDTH:
            raise ValueError("only 16-bit WAV files are supported")
        rate, channels = wav.getframerate(), wav.getnchannels()
        pcm = wav.readframes(wav.getnframes())
    if channels > 1:
        pcm = samples(pcm)[::channels].tobytes()
    if sample_rate and sample_rate != rate:
        return resample(pcm, rate, sample_rate), sample_rate
    return pcm, rate


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def silence(seconds: float, sample_rate: int) -> bytes:
    return bytes(SAMPLE_WIDTH * int(seconds * sample_rate))


def chunks(pcm: bytes, size: int) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]
