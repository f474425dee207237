"""Adapt to each caller: slow speakers get more time to finish, and slower replies.

Older people speak more slowly to a robot, pause longer in the middle of a
sentence (and are cut off by a fixed end-of-speech timeout), and follow a
slower reply better. From the first turns we measure the speaking rate
(syllables per second of voiced speech: one Chinese character or Hangul block is
one syllable) and the pauses inside utterances; once the caller looks slow, the
end-of-speech silence grows to cover their pauses and replies are slowed down.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

_SYLLABLE = re.compile(r"[\u3400-\u9fff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def syllables(text: str) -> int:
    return len(_SYLLABLE.findall(text)) + len(_LATIN_WORD.findall(text))


@dataclass
class CallerProfile:
    base_silence_ms: int
    max_silence_ms: int
    adapt_after_turns: int = 2
    slow_syllables_per_s: float = 3.0
    slow_pause_ms: int = 450
    rates: list[float] = field(default_factory=list)
    pauses_ms: list[int] = field(default_factory=list)

    def record(self, *, text: str, voiced_ms: int, pauses_ms: tuple[int, ...] | list[int]) -> None:
        """One finished utterance (ignored when too short to measure anything)."""
        count = syllables(text)
        if voiced_ms >= 300 and count >= 2:
            self.rates.append(count / (voiced_ms / 1000))
        self.pauses_ms.extend(pauses_ms)

    @property
    def turns(self) -> int:
        return len(self.rates)

    @property
    def syllables_per_s(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    @property
    def is_slow(self) -> bool:
        if self.turns < self.adapt_after_turns:
            return False
        rate = self.syllables_per_s or 0.0
        long_pauses = (
            bool(self.pauses_ms) and statistics.median(self.pauses_ms) >= self.slow_pause_ms
        )
        return rate < self.slow_syllables_per_s or long_pauses

    def trailing_silence_ms(self) -> int:
        """End-of-speech silence for this caller."""
        if not self.is_slow:
            return self.base_silence_ms
        # Long enough to cover nine in ten of their own pauses, with a margin.
        longest = _percentile(self.pauses_ms, 0.9) if self.pauses_ms else 0
        wanted = max(int(self.base_silence_ms * 1.5), int(longest * 1.3))
        return min(self.max_silence_ms, wanted)

    def rate_offset(self, step: int) -> int:
        """How much slower than the conversation's rate to reply (words per minute)."""
        return -step if self.is_slow else 0


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q * (len(ordered) - 1)))
    return float(ordered[index])
