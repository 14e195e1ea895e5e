"""Fixed-window counters: counts, windows, Retry-After, sharing through Redis and SQL."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from tests.conftest import REDIS_URL, delete_redis_keys
from tokensmith.ratelimit.counters import RedisCounter, SqlCounter, counter_key
from tokensmith.ratelimit.rates import Rate
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.rate_limits import SqlRateLimitStore
from tokensmith.stores.sql.tables import rate_limit_counters

WINDOW_START = 1_800_000_000.0  # a multiple of 60: the start of a minute window


class Clock:
    """A clock the test moves by hand, to step through windows without sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def counts(tmp_path):
    """A database's counters (SQLite: the window arithmetic is the counter's, not the store's)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'counts.db'}")
    await create_schema(engine)
    yield SqlRateLimitStore(engine)
    await engine.dispose()


async def test_counts_each_key_separately_within_a_window(counts):
    counter = SqlCounter(Rate(3, 60), counts, "rl", clock=Clock(WINDOW_START + 1))
    hits = [(await counter.hit("a")).count for _ in range(4)]
    assert hits == [1, 2, 3, 4]
    assert (await counter.hit("b")).count == 1


async def test_the_count_starts_over_in_the_next_window(counts):
    clock = Clock(WINDOW_START + 59.9)
    counter = SqlCounter(Rate(3, 60), counts, "rl", clock=clock)
    for _ in range(5):
        await counter.hit("a")
    clock.now = WINDOW_START + 60.0
    assert (await counter.hit("a")).count == 1


@pytest.mark.parametrize(
    ("offset", "retry_after"),
    [(0.0, 60), (0.2, 60), (30.0, 30), (59.1, 1), (59.99, 1)],
)
async def test_retry_after_is_the_whole_seconds_left_in_the_window(counts, offset, retry_after):
    counter = SqlCounter(Rate(1, 60), counts, "rl", clock=Clock(WINDOW_START + offset))
    assert (await counter.hit("a")).retry_after == retry_after


def test_long_keys_are_counted_by_their_hash():
    assert counter_key("web-app") == "web-app"
    long = "x" * 10_000
    assert counter_key(long) == counter_key(long)
    assert len(counter_key(long)) < 100
    assert counter_key(long) != counter_key(long + "y")


@pytest.fixture
async def redis_prefix():
    prefix = f"ts-test-{uuid.uuid4().hex[:16]}"
    yield prefix
    delete_redis_keys(prefix)


async def test_redis_counters_share_one_count_between_processes(redis_prefix):
    clock = Clock(WINDOW_START + 10)
    first, second = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    try:
        # Two clients stand for two server processes.
        a = RedisCounter(Rate(3, 60), first, f"{redis_prefix}:rl", clock=clock)
        b = RedisCounter(Rate(3, 60), second, f"{redis_prefix}:rl", clock=clock)
        counts = [(await counter.hit("web-app")).count for counter in (a, b, a, b)]
        assert counts == [1, 2, 3, 4]
        hit = await b.hit("other")
        assert (hit.count, hit.retry_after) == (1, 50)
        key = f"{redis_prefix}:rl:{int(clock.now // 60)}:web-app"
        assert 0 < await first.ttl(key) <= 61  # expires with its window
        clock.now += 60
        assert (await a.hit("web-app")).count == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_down_lets_requests_through_and_logs_a_warning(caplog):
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    counter = RedisCounter(Rate(1, 60), unreachable, "ts-test-down")
    try:
        hits = [await counter.hit("web-app") for _ in range(3)]
    finally:
        await unreachable.aclose()
    assert all(hit.count == 0 for hit in hits)
    warnings = [r for r in caplog.records if "rate limit counter unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a request


async def test_database_counters_share_one_count_between_processes(engine):
    clock = Clock(WINDOW_START + 10)
    # Two engines on one database stand for two server processes.
    other_engine = create_engine(engine.url.render_as_string(hide_password=False))
    try:
        a = SqlCounter(Rate(3, 60), SqlRateLimitStore(engine), "rl", clock=clock)
        b = SqlCounter(Rate(3, 60), SqlRateLimitStore(other_engine), "rl", clock=clock)
        counts = [(await counter.hit("web-app")).count for counter in (a, b, a, b)]
        assert counts == [1, 2, 3, 4]
        hit = await b.hit("other")
        assert (hit.count, hit.retry_after) == (1, 50)
        clock.now += 60
        assert (await a.hit("web-app")).count == 1
    finally:
        await other_engine.dispose()


async def test_concurrent_database_hits_lose_no_count(engine):
    counter = SqlCounter(Rate(1000, 60), SqlRateLimitStore(engine), "rl")
    hits = await asyncio.gather(*(counter.hit("burst") for _ in range(40)))
    assert sorted(hit.count for hit in hits) == list(range(1, 41))


async def test_a_new_window_deletes_the_rows_of_ended_ones(engine):
    clock = Clock(WINDOW_START + 10)
    counter = SqlCounter(Rate(3, 60), SqlRateLimitStore(engine), "rl", clock=clock)
    for key in ("a", "b", "c"):
        await counter.hit(key)
    clock.now += 60
    await counter.hit("a")
    async with engine.connect() as connection:
        keys = (await connection.execute(select(rate_limit_counters.c.key))).scalars().all()
    assert keys == [f"rl:{int(clock.now // 60)}:a"]


async def test_database_down_lets_requests_through_and_logs_a_warning(tmp_path, caplog):
    # Another process holds SQLite's write lock and this one may not wait: every count fails.
    # (Not a database that cannot be opened: aiosqlite then leaves a stop message for its
    # thread that may arrive after the test's event loop has closed.)
    path = tmp_path / "busy.db"
    busy = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=0)
    await create_schema(busy)
    counter = SqlCounter(Rate(1, 60), SqlRateLimitStore(busy), "rl")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        hits = [await counter.hit("web-app") for _ in range(3)]
        other.execute("ROLLBACK")
    finally:
        other.close()
        await busy.dispose()
    assert all(hit.count == 0 for hit in hits)
    warnings = [r for r in caplog.records if "rate limit counter unavailable" in r.getMessage()]
    assert len(warnings) == 1
