"""In-memory limits for one gateway process: token buckets per sender / address,
and a lock on the agent view's sign-in after repeated wrong passwords.

One process serves the gateway, so the state lives in its memory (no Redis in
the default profile). Both classes are used from the event loop only. They keep
at most ``max_keys`` keys, dropping the least recently used, so a flood of new
sender ids cannot grow memory without end (each address has its own bucket
too, so new ids do not buy a client more messages).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``rate_per_minute`` tokens refill each bucket, which holds at most ``burst``."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        max_keys: int = 20_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = max(1, burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0.0: it has one now). Takes nothing."""
        if not self.enabled:
            return 0.0
        bucket = self._bucket(key, self.clock())
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def take(self, key: str) -> None:
        if self.enabled:
            self._bucket(key, self.clock()).tokens -= 1


def acquire(*limits: tuple[TokenBuckets, str]) -> float:
    """Take one token from every (buckets, key) when all have one; else the seconds to wait.

    Nothing is taken when one of them is empty, so a refused message costs nothing.
    """
    wait = max((buckets.wait(key) for buckets, key in limits), default=0.0)
    if wait == 0.0:
        for buckets, key in limits:
            buckets.take(key)
    return wait


class FailureLock:
    """After ``max_failures`` failures within ``lock_s`` seconds a key is locked for ``lock_s``."""

    def __init__(
        self,
        max_failures: int,
        lock_s: float,
        *,
        max_keys: int = 20_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.lock_s = lock_s
        self.max_keys = max_keys
        self.clock = clock
        self._failures: collections.OrderedDict[str, list[float]] = collections.OrderedDict()
        self._locked_until: dict[str, float] = {}

    def locked(self, key: str) -> float:
        """Seconds the key stays locked (0.0: not locked)."""
        until = self._locked_until.get(key)
        if until is None:
            return 0.0
        left = until - self.clock()
        if left <= 0:
            del self._locked_until[key]
            return 0.0
        return left

    def failed(self, key: str) -> float:
        """Record a failure; the seconds of the lock it started (0.0: not locked yet)."""
        now = self.clock()
        recent = [t for t in self._failures.pop(key, []) if now - t < self.lock_s]
        recent.append(now)
        if len(recent) >= self.max_failures:
            self._locked_until[key] = now + self.lock_s
            if len(self._locked_until) > self.max_keys:
                self._locked_until = {k: u for k, u in self._locked_until.items() if u > now}
            return self.lock_s
        self._failures[key] = recent
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
        return 0.0

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
