"""The SQLite engine: one writer per process, the fsync policy chosen in settings."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from tokensmith.models.grant import GrantKind, StoredGrant
from tokensmith.stores.sql import engine as engine_module
from tokensmith.stores.sql.engine import WAL_AUTOCHECKPOINT_PAGES, create_engine, create_schema
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.write_turns import ProcessWriteTurns


async def soon(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within 5 s (checked every 50 ms)."""
    for _ in range(100):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def record(key: str) -> StoredGrant:
    return StoredGrant(key, GrantKind.AUTHORIZATION_CODE, "c", None, 0, 2**31)


async def test_write_transactions_of_one_process_take_turns(tmp_path):
    # busy_timeout 0: a second connection writing while the first holds the lock
    # would fail at once with "database is locked" instead of waiting its turn.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", sqlite_busy_timeout_ms=0)
    await create_schema(engine)
    store = SqlGrantStore(engine)
    first_holds_the_lock = asyncio.Event()
    second_done = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM grants WHERE key = 'none'"))
            first_holds_the_lock.set()
            # Keep the write transaction open until the second write is done, or,
            # if it waits for this one (as it should), until it has clearly waited.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(second_done.wait(), timeout=0.5)

    async def second() -> None:
        await first_holds_the_lock.wait()
        try:
            await store.save(record("second"))
        finally:
            second_done.set()

    try:
        await asyncio.gather(first(), second())
        assert await store.find("second", GrantKind.AUTHORIZATION_CODE) is not None
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2)])
async def test_synchronous_follows_the_setting(tmp_path, setting, pragma):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", sqlite_synchronous=setting)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA synchronous")) == pragma
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
    finally:
        await engine.dispose()


def test_normal_is_the_default(make_settings):
    assert make_settings().sqlite_synchronous == "NORMAL"


async def test_a_connection_goes_back_to_the_pool_with_no_transaction_open(tmp_path):
    # The pool does not roll back returned connections (SQLAlchemy ends each transaction
    # itself): a write left uncommitted must still be undone, and must not keep the
    # write lock, or the next writer of this process would wait for busy_timeout.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", sqlite_busy_timeout_ms=0)
    await create_schema(engine)
    store = SqlGrantStore(engine)
    try:
        async with engine.connect() as connection:
            await connection.execute(
                text(
                    "INSERT INTO grants (key, kind, data, created_at, expires_at)"
                    " VALUES ('left-open', 'authorization_code', '{}', 0, 1)"
                )
            )  # no commit
        with contextlib.suppress(RuntimeError):
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM grants WHERE key = 'none'"))
                raise RuntimeError("rolled back")
        await store.save(record("next"))  # would fail with "database is locked"
        assert await store.find("left-open", GrantKind.AUTHORIZATION_CODE) is None
        assert await store.find("next", GrantKind.AUTHORIZATION_CODE) is not None
    finally:
        await engine.dispose()


async def test_commits_leave_checkpoints_to_a_thread_that_keeps_the_wal_small(tmp_path):
    path = tmp_path / "c.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    store = SqlGrantStore(engine)
    checkpointer = engine.checkpointer
    assert checkpointer is not None
    try:
        async with engine.connect() as connection:
            pages = await connection.scalar(text("PRAGMA wal_autocheckpoint"))
            assert pages == WAL_AUTOCHECKPOINT_PAGES > 1000  # not SQLite's default
        wal_sizes = []
        for round_ in range(5):  # each round alone fills the WAL with ~700 pages
            rows = [record(f"r{round_}-{i:04}-" + "x" * 40) for i in range(1500)]
            await asyncio.gather(*(store.save(row) for row in rows))
            wal_sizes.append((tmp_path / "c.db-wal").stat().st_size)
            done = checkpointer.checkpoints
            # The thread's next round: it checkpoints what was written.
            assert await soon(lambda done=done: checkpointer.checkpoints > done)
        # Checkpointed, SQLite writes the WAL from its start again: it does not grow.
        # Without the thread it would grow to SQLite's commit-time limit, far past these.
        assert wal_sizes[-1] < 2 * wal_sizes[0]
    finally:
        await engine.dispose()
    assert await soon(lambda: not checkpointer.running)  # ends within one interval


def test_a_process_waits_for_the_other_s_write_turn_and_gets_it_when_let_go(tmp_path):
    database = tmp_path / "t.db"
    mine, theirs = ProcessWriteTurns(database, 5), ProcessWriteTurns(database, 5)  # two fds
    taken = threading.Event()
    with theirs:
        waiter = threading.Thread(target=lambda: (mine.__enter__(), taken.set()))
        waiter.start()
        assert not taken.wait(0.2)  # their turn: mine waits
        let_go = time.monotonic()
    assert taken.wait(5)
    assert time.monotonic() - let_go < 0.5  # at once, not after a long sleep
    mine.__exit__(None, None, None)
    waiter.join()
    mine.close()
    theirs.close()


def test_a_turn_that_does_not_come_within_the_timeout_is_skipped(tmp_path):
    database = tmp_path / "t.db"
    mine, theirs = ProcessWriteTurns(database, 0.1), ProcessWriteTurns(database, 5)
    with theirs:
        started = time.monotonic()
        with mine:  # SQLite's busy timeout decides from here
            waited = time.monotonic() - started
    assert 0.1 <= waited < 2
    mine.close()
    theirs.close()


async def test_the_writer_thread_takes_the_process_write_turn(tmp_path):
    path = tmp_path / "p.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    store = SqlGrantStore(engine)
    other_process = ProcessWriteTurns(path, 5)
    try:
        with other_process:
            save = asyncio.ensure_future(store.save(record("waits")))
            await asyncio.sleep(0.3)
            assert not save.done()  # no SQLite lock is held: only the turn stops it
        await asyncio.wait_for(save, 5)
        assert await store.find("waits", GrantKind.AUTHORIZATION_CODE) is not None
    finally:
        other_process.close()
        await engine.dispose()


async def test_an_engine_used_again_after_dispose_checkpoints_again(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'again.db'}")
    await create_schema(engine)
    await engine.dispose()
    checkpointer = engine.checkpointer
    assert checkpointer is not None
    try:
        done = checkpointer.checkpoints
        await SqlGrantStore(engine).save(record("after-dispose"))
        assert await soon(lambda: checkpointer.checkpoints > done)
        assert checkpointer.running
    finally:
        await engine.dispose()


async def test_writes_without_a_pause_keep_the_wal_bounded(tmp_path, monkeypatch):
    # The thread's checkpoints never catch up with a writer that never pauses; the
    # commit-time checkpoint past WAL_AUTOCHECKPOINT_PAGES (here 300) does.
    monkeypatch.setattr(engine_module, "WAL_AUTOCHECKPOINT_PAGES", 300)
    path = tmp_path / "busy.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    thread_engine, checkpointer = engine.thread_engine, engine.checkpointer
    assert thread_engine is not None and checkpointer is not None
    insert = text(
        "INSERT INTO grants (key, kind, data, created_at, expires_at) VALUES (:k, 'x', :d, 0, 1)"
    )

    def write_without_a_pause() -> int:
        largest, deadline, n = 0, time.monotonic() + 2.5, 0
        while time.monotonic() < deadline:
            with thread_engine.begin() as connection:
                connection.execute(
                    insert, [{"k": f"k{n}-{i}", "d": "{}" + " " * 300} for i in range(20)]
                )
            n += 1
            checkpointer.wrote()
            largest = max(largest, (tmp_path / "busy.db-wal").stat().st_size)
        return largest

    try:
        largest = await asyncio.to_thread(write_without_a_pause)
        assert checkpointer.checkpoints > 0
        assert largest < 2_000 * 4096  # without the limit: 40+ MB in these 2.5 s
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database", [":memory:", "file::memory:?uri=true"])
def test_a_database_in_memory_gets_no_threads_and_no_lock_file(database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    assert engine.thread_engine is None and engine.checkpointer is None
    assert list(tmp_path.iterdir()) == []


async def test_a_file_uri_takes_its_write_turns_beside_the_database(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///file:{tmp_path / 'u.db'}?uri=true")
    try:
        await create_schema(engine)
        await SqlGrantStore(engine).save(record("uri"))
        assert (tmp_path / "u.db-write-turns").exists()
    finally:
        await engine.dispose()
