"""Failed customer-portal lookups, limited per (tenant, client IP) with a sliding window.

In-process: each API process keeps its own window (a client spread over N processes by a load
balancer gets up to N times the limit). A multi-process deployment that needs one shared limit
would keep the failure timestamps in MongoDB (a `portal_failures` collection with a TTL index on
the timestamp, counted per key); the in-process window is kept because the check sits on the
lookup's hot path and costs no database command here.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

PORTAL_FAILURE_LIMIT = 10
PORTAL_FAILURE_WINDOW_SECONDS = 300.0
MAX_TRACKED_CLIENTS = 50_000  # oldest keys are dropped beyond this, bounding memory


@dataclass
class SlidingWindowLimiter:
    limit: int = PORTAL_FAILURE_LIMIT
    window_seconds: float = PORTAL_FAILURE_WINDOW_SECONDS
    max_keys: int = MAX_TRACKED_CLIENTS
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _locks: dict[str, list[Any]] = field(default_factory=dict)  # key -> [lock, waiters]

    def _recent(self, key: str, now: float) -> deque[float] | None:
        stamps = self._failures.get(key)
        if stamps is None:
            return None
        cutoff = now - self.window_seconds
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
            return None
        return stamps

    def is_limited(self, key: str, now: float | None = None) -> bool:
        stamps = self._recent(key, time.monotonic() if now is None else now)
        return stamps is not None and len(stamps) >= self.limit

    def record_failure(self, key: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        stamps = self._recent(key, moment)
        if stamps is None:
            stamps = self._failures[key] = deque(maxlen=self.limit)
        stamps.append(moment)
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    @asynccontextmanager
    async def serialized(self, key: str) -> AsyncIterator[None]:
        """One attempt at a time per key, so concurrent guesses cannot all pass the check before
        any failure is recorded (the check and the record become one step per client)."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]

    def reset(self) -> None:
        self._failures.clear()


# One limiter per database (= per deployment); tests each use a fresh database, so they don't mix.
_limiters: dict[str, SlidingWindowLimiter] = {}


def portal_limiter(scope: str) -> SlidingWindowLimiter:
    limiter = _limiters.get(scope)
    if limiter is None:
        limiter = _limiters[scope] = SlidingWindowLimiter()
    return limiter


def client_key(tenant_id: str, client_ip: str) -> str:
    return f"{tenant_id}|{client_ip}"
