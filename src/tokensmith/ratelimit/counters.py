"""Fixed-window request counters, shared by every process through Redis or the database.

A window is ``rate.seconds`` long and aligned to the Unix epoch, so every
process (and Redis) agrees on where windows start without talking to each
other. Fixed windows can let through up to twice the limit across a window
boundary; for guessing limits (dozens a minute) that is immaterial, and it
keeps a check to one Redis round trip or one database upsert.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from tokensmith.ratelimit.rates import Rate

__all__ = [
    "Hit",
    "RedisCounter",
    "SqlCounter",
    "SqlCounts",
    "WindowCounter",
    "counter_key",
]

logger = logging.getLogger(__name__)

MAX_KEY_CHARS = 200
"""Longer keys (a client_id is whatever the request says) are counted by their hash."""

Clock = Callable[[], float]
"""Seconds since the epoch; ``time.time`` except where a test steps through windows."""


@dataclass(slots=True, frozen=True)
class Hit:
    """One counted request: its number in the window and when the window ends."""

    count: int
    retry_after: int
    """Whole seconds (at least 1) until the window ends and the count starts over."""


class WindowCounter(Protocol):
    rate: Rate

    async def hit(self, key: str) -> Hit:
        """Count one request for ``key`` in the current window."""
        ...


def counter_key(value: str) -> str:
    """``value`` itself when short, else its SHA-256: bounded memory per key."""
    if len(value) <= MAX_KEY_CHARS:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _window(rate: Rate, now: float) -> tuple[int, int]:
    """The current window's number and the seconds until it ends (at least 1)."""
    number = int(now // rate.seconds)
    return number, max(1, math.ceil((number + 1) * rate.seconds - now))


class _OutageLog:
    """Says that a shared counter is down, at most once a minute per counter."""

    def __init__(self) -> None:
        self._last_warning = -60.0

    def warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 60:
            self._last_warning = now
            logger.warning("rate limit counter unavailable, letting requests through: %s", exc)


class RedisCounter:
    """Counts in Redis (INCR + EXPIRE in one round trip), shared by every server process.

    If Redis cannot be reached the request is let through: refusing every
    request because the counter is down would turn a Redis outage into a
    full outage. The failure is logged (at most once a minute).
    """

    def __init__(self, rate: Rate, client: Redis, prefix: str, *, clock: Clock = time.time) -> None:
        self.rate = rate
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._outage = _OutageLog()

    async def hit(self, key: str) -> Hit:
        number, retry_after = _window(self.rate, self._clock())
        name = f"{self._prefix}:{number}:{key}"
        try:
            pipeline = self._client.pipeline(transaction=False)
            pipeline.incr(name)
            pipeline.expire(name, self.rate.seconds + 1)
            count, _ = await pipeline.execute()
        except RedisError as exc:
            self._outage.warn(exc)
            return Hit(0, retry_after)
        return Hit(int(count), retry_after)


class SqlCounts(Protocol):
    """The database side of SqlCounter (``stores.sql.rate_limits.SqlRateLimitStore``)."""

    async def increment(self, key: str, expires_at: int) -> int: ...

    async def purge(self, now: int) -> int: ...


class SqlCounter:
    """Counts in the SQL database, shared by every server process (no Redis needed).

    Like RedisCounter it lets a request through when the database cannot
    count (logged at most once a minute): the request itself will meet the
    same database and get its own clean error. The first count of each new
    window in this process deletes the rows of ended windows.
    """

    def __init__(self, rate: Rate, counts: SqlCounts, prefix: str, *, clock: Clock = time.time):
        self.rate = rate
        self._counts = counts
        self._prefix = prefix
        self._clock = clock
        self._window_number = -1
        self._outage = _OutageLog()

    async def hit(self, key: str) -> Hit:
        now = self._clock()
        number, retry_after = _window(self.rate, now)
        ends_at = (number + 1) * self.rate.seconds
        try:
            if number != self._window_number:
                self._window_number = number
                await self._counts.purge(int(now))
            count = await self._counts.increment(f"{self._prefix}:{number}:{key}", ends_at)
        except SQLAlchemyError as exc:
            self._outage.warn(exc)
            return Hit(0, retry_after)
        return Hit(count, retry_after)
