"""The SQLite process: stored tokens committed and looked up by a child, each caller its outcome."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import exc as db

from tests.helpers import stopped_process
from tests.stores.test_group_commit import record
from tokensmith.endpoints._rendering import database_unavailable
from tokensmith.helper_process import LoopHelper
from tokensmith.models.grant import ConsumeOutcome, GrantKind
from tokensmith.stores.protocols import DuplicateGrant
from tokensmith.stores.sql import grants as grant_store
from tokensmith.stores.sql import group_commit, lookups, sqlite_process
from tokensmith.stores.sql.engine import SingleWriterEngine, create_engine, create_schema
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.process_sqlite import NotSent, SqliteProcess
from tokensmith.stores.sql.sqlite_process import (
    ANSWER,
    FAILED,
    FOUND,
    INSERT,
    OPEN,
    READY,
    REQUEST,
    ROWS,
    SELECT,
    STATEMENT,
    UPDATE,
    WRITTEN,
    Database,
    whole_frames,
)
from tokensmith.stores.sql.tables import grants, users
from tokensmith.stores.sql.write_turns import ProcessWriteTurns

READY_SECONDS = 20


async def ready_process(engine: SingleWriterEngine) -> SqliteProcess:
    """Start this loop's SQLite process and wait until it takes rows."""
    for _ in range(READY_SECONDS * 100):
        writer = engine.sqlite_process()
        if writer is not None:
            return writer
        await asyncio.sleep(0.01)
    raise AssertionError("the SQLite process did not become ready")


def the_helper(engine: SingleWriterEngine) -> SqliteProcess:
    """This loop's SQLite process, ready or not."""
    assert engine._sqlite_processes is not None
    helper = engine._sqlite_processes.get().helper
    assert helper is not None
    return helper


@asynccontextmanager
async def held_by_stopped_child(
    writer: SqliteProcess, *calls: Awaitable[Any]
) -> AsyncIterator[list[asyncio.Future[Any]]]:
    """``calls`` started while the child is stopped (SIGSTOP), once it is seen holding them."""
    with stopped_process(writer.pid):
        started = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0.2)
        assert not any(future.done() for future in started)  # the stopped child holds them
        yield started


async def open_engine(path: Path, **options: object) -> SingleWriterEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_process=True, **options)
    assert isinstance(engine, SingleWriterEngine)
    await create_schema(engine)
    return engine


@pytest.fixture
async def writing(tmp_path: Path) -> AsyncIterator[tuple[SingleWriterEngine, SqliteProcess, Path]]:
    """An engine whose SQLite process takes rows, the process, and the database file."""
    path = tmp_path / "tokens.db"
    engine = await open_engine(path)
    try:
        yield engine, await ready_process(engine), path
    finally:
        await engine.dispose()


def no_thread_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a group commit on the worker's writer thread fail: rows can only go to the child."""

    async def refused(*_args: object) -> None:
        raise AssertionError("written on the worker's thread")

    monkeypatch.setattr(group_commit, "run_in_transaction", refused)


def stored(path: Path) -> dict[str, dict[str, object]]:
    """The grants table as another connection sees it: committed rows only."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT key, data FROM grants").fetchall()
    finally:
        connection.close()
    return {key: orjson.loads(data) for key, data in rows}


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


async def test_saves_are_committed_by_the_child_before_they_return(writing, monkeypatch):
    engine, writer, path = writing
    assert writer.pid is not None and writer.pid != os.getpid()
    assert "tokensmith/stores/sql/sqlite_process.py" in command_line(writer.pid)
    no_thread_writes(monkeypatch)
    store = SqlGrantStore(engine)
    keys = [f"k{n}" for n in range(300)]

    await asyncio.gather(*(store.save(record(key)) for key in keys))

    assert stored(path) == {key: {"n": key} for key in keys}
    found = await store.find("k7", GrantKind.ACCESS_TOKEN)
    assert found is not None and found.data == {"n": "k7"}


async def test_a_save_waits_for_the_child_s_commit(writing):
    engine, writer, path = writing
    store = SqlGrantStore(engine)
    async with held_by_stopped_child(writer, store.save(record("held"))) as (saving,):
        assert stored(path) == {}
    await asyncio.wait_for(saving, READY_SECONDS)
    assert stored(path) == {"held": {"n": "held"}}


async def test_a_duplicate_fails_only_its_own_save_and_the_batch_is_written(writing, monkeypatch):
    engine, _writer, path = writing
    no_thread_writes(monkeypatch)
    store = SqlGrantStore(engine)
    await store.save(record("taken"))
    keys = ["a", "b", "taken", "c", "twice", "twice"]

    outcomes = await asyncio.gather(
        *(store.save(record(key)) for key in keys), return_exceptions=True
    )

    assert [type(outcome).__name__ for outcome in outcomes] == [
        "NoneType",
        "NoneType",
        "DuplicateGrant",
        "NoneType",
        "NoneType",
        "DuplicateGrant",
    ]
    assert isinstance(outcomes[2], DuplicateGrant)
    assert isinstance(outcomes[2].__cause__, db.IntegrityError)
    assert set(stored(path)) == {"a", "b", "c", "taken", "twice"}


async def test_a_busy_database_fails_the_batch_as_unavailable_and_none_hangs(tmp_path):
    path = tmp_path / "busy.db"
    engine = await open_engine(path, sqlite_busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await ready_process(engine)
        store = SqlGrantStore(engine)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        saves = [store.save(record(f"busy{n}")) for n in range(10)]
        outcomes = await asyncio.wait_for(asyncio.gather(*saves, return_exceptions=True), 10)
        assert all(isinstance(outcome, db.OperationalError) for outcome in outcomes)
        assert "locked" in str(outcomes[0])
        assert all(database_unavailable(outcome) for outcome in outcomes)  # a 503
        other.execute("ROLLBACK")
        await store.save(record("later"))  # the child goes on
        assert set(stored(path)) == {"later"}
        assert the_helper(engine).pid is not None and not the_helper(engine).ended
    finally:
        other.close()
        await engine.dispose()


async def test_a_killed_child_fails_what_it_held_then_the_thread_writes_and_another_starts(
    writing, monkeypatch, caplog
):
    engine, writer, path = writing
    monkeypatch.setattr(LoopHelper, "restart_seconds", 0.5)
    caplog.set_level(logging.WARNING)
    store = SqlGrantStore(engine)
    saves = (store.save(record(f"held{n}")) for n in range(5))
    async with held_by_stopped_child(writer, *saves) as held:
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        outcomes = await asyncio.wait_for(
            asyncio.gather(*held, return_exceptions=True), READY_SECONDS
        )

    # Sent and never answered: committed or not, nobody knows; the client is told to retry.
    assert all(isinstance(outcome, db.OperationalError) for outcome in outcomes)
    assert all(database_unavailable(outcome) for outcome in outcomes)
    assert "1 batches unanswered" in caplog.text
    await store.save(record("on-the-thread"))  # meanwhile the worker's thread writes
    assert "on-the-thread" in stored(path)
    await asyncio.sleep(0.6)
    second = await ready_process(engine)
    assert second is not writer and second.pid not in (None, writer.pid)
    await store.save(record("second-child"))
    assert "second-child" in stored(path)


async def test_rows_not_yet_sent_when_the_child_ended_are_written_on_the_thread(writing):
    engine, writer, path = writing
    store = SqlGrantStore(engine)
    saving = asyncio.ensure_future(store.save(record("late")))
    await asyncio.sleep(0)  # the row waits for the end of the turn to be sent
    assert writer._pending
    writer._end()  # the child goes before the turn ends
    await asyncio.wait_for(saving, READY_SECONDS)
    assert stored(path) == {"late": {"n": "late"}}


async def test_the_first_saves_are_written_on_the_thread_while_the_child_starts(tmp_path):
    path = tmp_path / "starting.db"
    engine = await open_engine(path)
    try:
        store = SqlGrantStore(engine)
        await store.save(record("first"))  # starts the child, written on the thread
        assert not the_helper(engine).can_take(1)
        await ready_process(engine)
        await store.save(record("second"))
        assert set(stored(path)) == {"first", "second"}
    finally:
        await engine.dispose()


async def test_a_hung_child_is_ended_and_its_callers_told_to_retry(writing, monkeypatch):
    engine, writer, _path = writing
    monkeypatch.setattr(writer, "answer_seconds", 0.3)
    store = SqlGrantStore(engine)
    with stopped_process(writer.pid):
        outcome = await asyncio.wait_for(
            asyncio.gather(store.save(record("hung")), return_exceptions=True), 5
        )
    assert isinstance(outcome[0], db.OperationalError)
    assert writer.ended


async def test_a_cancelled_save_does_not_disturb_the_others(writing):
    engine, writer, path = writing
    store = SqlGrantStore(engine)
    saves = store.save(record("gone")), store.save(record("kept"))
    async with held_by_stopped_child(writer, *saves) as (gone, kept):
        gone.cancel()
    await asyncio.wait_for(kept, READY_SECONDS)
    assert gone.cancelled()
    assert "kept" in stored(path)  # and "gone", sent before it was cancelled, is written too


async def test_commits_through_the_child_are_checkpointed(writing, monkeypatch):
    engine, _writer, _path = writing
    no_thread_writes(monkeypatch)
    assert engine.checkpointer is not None
    noted: list[int] = []
    wrote = engine.checkpointer.wrote

    def noting() -> None:
        noted.append(1)
        wrote()

    monkeypatch.setattr(engine.checkpointer, "wrote", noting)
    store = SqlGrantStore(engine)
    await asyncio.gather(*(store.save(record(f"c{n}")) for n in range(50)))
    assert noted  # each answered batch tells the checkpoint thread


async def test_a_row_json_cannot_carry_fails_only_its_caller(writing):
    engine, writer, path = writing
    store = SqlGrantStore(engine)
    saving = asyncio.ensure_future(store.save(record("fine")))
    with pytest.raises(TypeError):
        writer.insert("INSERT INTO grants (key) VALUES (?)", (2**70,))
    await asyncio.wait_for(saving, READY_SECONDS)
    assert set(stored(path)) == {"fine"}


async def test_rows_queued_while_the_child_closes_are_written_on_the_thread(writing, monkeypatch):
    engine, writer, path = writing
    store = SqlGrantStore(engine)
    saving = asyncio.ensure_future(store.save(record("closing")))
    await asyncio.sleep(0)  # the row waits for the end of the turn to be sent
    assert writer._pending
    monkeypatch.setattr(writer, "_closing", True)  # as aclose() does first
    await asyncio.wait_for(saving, READY_SECONDS)
    assert stored(path) == {"closing": {"n": "closing"}}


async def test_other_writes_take_their_turn_beside_the_child(writing):
    """A transaction of engine.begin() (replace: consents, counters) waits for the write
    turns, which the child takes for each of its transactions, rather than for SQLite's
    sleeping busy handler."""
    engine, _writer, path = writing
    store = SqlGrantStore(engine)
    other_process = ProcessWriteTurns(path, 5.0)
    with other_process:
        replacing = asyncio.ensure_future(store.replace(record("replaced")))
        await asyncio.sleep(0.3)
        assert not replacing.done()  # waiting for its turn
    await asyncio.wait_for(replacing, READY_SECONDS)
    assert "replaced" in stored(path)
    other_process.close()


async def test_closing_the_engine_ends_the_child_after_its_last_answer(tmp_path, monkeypatch):
    path = tmp_path / "closing.db"
    engine = await open_engine(path)
    writer = await ready_process(engine)
    no_thread_writes(monkeypatch)
    store = SqlGrantStore(engine)
    saving = asyncio.gather(*(store.save(record(f"z{n}")) for n in range(200)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # sent, not yet answered
    assert writer._in_flight
    await engine.dispose()
    await asyncio.wait_for(saving, READY_SECONDS)  # every one answered as committed
    assert writer.ended
    assert writer.pid is not None and not running(writer.pid)
    assert len(stored(path)) == 200


def table_t(path: Path) -> Path:
    """A database file with one table, t (k TEXT PRIMARY KEY, n INTEGER)."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)")
    connection.commit()
    connection.close()
    return path


def test_the_child_reads_frames_split_anywhere_and_answers_each(tmp_path):
    path = table_t(tmp_path / "frames.db")
    sql = b"INSERT INTO t (k, n) VALUES (?, ?)"
    opening = orjson.dumps([str(path), 1.0, ["PRAGMA journal_mode=WAL"]])
    first = orjson.dumps([["a", 1], ["b", 2]])
    second = orjson.dumps([["c", 3], ["a", 4]])  # "a" again: refused, "c" written
    stream = b"".join(
        [
            REQUEST.pack(OPEN, 0, 0, len(opening)) + opening,
            REQUEST.pack(STATEMENT, 3, 0, len(sql)) + sql,
            REQUEST.pack(INSERT, 3, 0, len(first)) + first,
            REQUEST.pack(INSERT, 3, 1, len(second)) + second,
        ]
    )
    frames: list[tuple[bytes, int, int, bytes]] = []
    unread = b""
    for at in range(0, len(stream), 5):  # five bytes at a time
        more, unread = whole_frames(unread + stream[at : at + 5])
        frames += more
    assert unread == b""
    assert [(kind, slot, sequence) for kind, slot, sequence, _ in frames] == [
        (OPEN, 0, 0),
        (STATEMENT, 3, 0),
        (INSERT, 3, 0),
        (INSERT, 3, 1),
    ]

    writer = Database(*orjson.loads(frames[0][3]))
    answers = b"".join(
        writer.answers(
            [
                (INSERT, 0, 3, orjson.loads(frames[2][3])),
                (INSERT, 1, 3, orjson.loads(frames[3][3])),
            ],
            {3: frames[1][3].decode()},
        )
    )

    status, sequence, length = ANSWER.unpack_from(answers)
    assert (status, sequence, length) == (WRITTEN, 0, 0)
    status, sequence, length = ANSWER.unpack_from(answers, ANSWER.size)
    assert (status, sequence) == (ROWS, 1)
    refused = orjson.loads(answers[2 * ANSWER.size :])
    assert refused[0] is None and "UNIQUE" in refused[1]
    rows = sqlite3.connect(path).execute("SELECT k, n FROM t ORDER BY k").fetchall()
    assert rows == [("a", 1), ("b", 2), ("c", 3)]


async def test_the_worker_reads_answers_split_anywhere():
    loop = asyncio.get_running_loop()
    writer = SqliteProcess(Path("unused.db"), 1.0, [], wrote=lambda: None)
    callers = [[loop.create_future() for _ in range(2)] for _ in range(3)]
    writer._in_flight.extend(("INSERT ...", frame, None, []) for frame in callers)
    refused = orjson.dumps([None, "UNIQUE constraint failed: t.k"])
    failure = b"OperationalError: database is locked"
    stream = (
        READY
        + ANSWER.pack(WRITTEN, 0, 0)
        + ANSWER.pack(ROWS, 1, len(refused))
        + refused
        + ANSWER.pack(FAILED, 2, len(failure))
        + failure
    )
    for at in range(len(stream)):  # a byte at a time
        writer.pipe_data_received(1, stream[at : at + 1])

    assert [done.result() for done in callers[0]] == [None, None]
    assert callers[1][0].result() is None
    with pytest.raises(db.IntegrityError, match="UNIQUE"):
        callers[1][1].result()
    for done in callers[2]:
        with pytest.raises(db.OperationalError, match="locked"):
            done.result()


async def test_rows_after_the_end_are_not_written_but_handed_back(tmp_path):
    writer = SqliteProcess(tmp_path / "x.db", 1.0, [], wrote=lambda: None)
    writer.process_exited()  # never started: ended
    pending = writer.insert("INSERT ...", ("k",))
    with pytest.raises(NotSent):
        await pending


def test_a_batch_the_child_cannot_run_is_answered_failed(tmp_path):
    writer = Database(str(tmp_path / "odd.db"), 1.0, [])
    answers = b"".join(writer.answers([(INSERT, 7, 5, [["a"]])], {}))  # no statement in slot 5
    status, sequence, _length = ANSWER.unpack_from(answers)
    assert (status, sequence) == (FAILED, 7)
    assert answers[ANSWER.size :].startswith(b"KeyError")
    assert not writer.connection.in_transaction


def test_the_child_imports_nothing_of_tokensmith():
    source = Path(sqlite_process.__file__).read_text()
    assert "import tokensmith" not in source and "from tokensmith" not in source


def no_thread_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a batched lookup on a reader thread fail: rows can only come from the child."""

    async def refused(*_args: object) -> None:
        raise AssertionError("read on a reader thread")

    monkeypatch.setattr(lookups, "run_read", refused)


async def test_lookups_are_read_by_the_child(writing, monkeypatch):
    engine, _writer, _path = writing
    store = SqlGrantStore(engine)
    keys = [f"r{n}" for n in range(600)]  # more than one SELECT's worth of keys
    await asyncio.gather(*(store.save(record(key)) for key in keys))
    no_thread_reads(monkeypatch)

    found = await asyncio.gather(
        *(store.find(key, GrantKind.ACCESS_TOKEN) for key in [*keys, "absent", "r7"])
    )

    assert [grant.data if grant else None for grant in found] == [
        *({"n": key} for key in keys),
        None,
        {"n": "r7"},
    ]
    assert found[0] is not None and found[0].expires_at == 2**31 - 1


async def test_a_lookup_sees_what_was_stored_and_consumed_before_it(writing, monkeypatch):
    engine, _writer, _path = writing
    store = SqlGrantStore(engine)
    no_thread_reads(monkeypatch)
    await store.save(record("seen"))
    assert (await store.find("seen", GrantKind.ACCESS_TOKEN)) is not None
    await store.consume("seen", GrantKind.ACCESS_TOKEN, 1234)
    found = await store.find("seen", GrantKind.ACCESS_TOKEN)
    assert found is not None and found.consumed_at == 1234


async def test_a_lookup_held_by_a_killed_child_is_read_again_on_the_thread(writing):
    engine, writer, _path = writing
    store = SqlGrantStore(engine)
    await store.save(record("kept"))
    async with held_by_stopped_child(writer, store.find("kept", GrantKind.ACCESS_TOKEN)) as (
        finding,
    ):
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        found = await asyncio.wait_for(finding, READY_SECONDS)
    assert found is not None and found.data == {"n": "kept"}  # a read changes nothing: again


async def test_saves_and_lookups_of_one_turn_share_a_write(writing, monkeypatch):
    engine, _writer, path = writing
    store = SqlGrantStore(engine)
    await store.save(record("old"))
    no_thread_writes(monkeypatch)
    no_thread_reads(monkeypatch)
    outcomes = await asyncio.gather(
        store.find("old", GrantKind.ACCESS_TOKEN),
        store.save(record("new")),
        store.find("old", GrantKind.ACCESS_TOKEN),  # the same key twice in one SELECT
        store.find("nowhere", GrantKind.ACCESS_TOKEN),
        store.save(record("newer")),
    )
    assert [getattr(outcome, "key", outcome) for outcome in outcomes] == [
        "old",
        None,
        "old",
        None,
        None,
    ]
    assert set(stored(path)) == {"old", "new", "newer"}
    found = await store.find("new", GrantKind.ACCESS_TOKEN)  # committed before this began
    assert found is not None and found.data == {"n": "new"}


async def test_a_cancelled_lookup_does_not_disturb_the_others(writing):
    engine, writer, _path = writing
    store = SqlGrantStore(engine)
    await store.save(record("there"))
    finds = (store.find("there", GrantKind.ACCESS_TOKEN) for _ in range(2))
    async with held_by_stopped_child(writer, *finds) as (gone, kept):
        gone.cancel()
    found = await asyncio.wait_for(kept, READY_SECONDS)
    assert gone.cancelled()
    assert found is not None and found.key == "there"


def found_failed_unreadable(rows: bytes, failure: bytes) -> bytes:
    """READY, then answers to frames 0-2: ``rows`` found, ``failure``, and rows that are
    not JSON."""
    return (
        READY
        + ANSWER.pack(FOUND, 0, len(rows))
        + rows
        + ANSWER.pack(FAILED, 1, len(failure))
        + failure
        + ANSWER.pack(FOUND, 2, 3)
        + b"[[["
    )


async def test_the_worker_reads_found_rows_and_failed_lookups():
    loop = asyncio.get_running_loop()
    writer = SqliteProcess(Path("unused.db"), 1.0, [], wrote=lambda: None)
    select = lookups.DriverSelect("SELECT k, d FROM t WHERE k IN ", ("k", "d"), 0, frozenset({1}))
    asking = [loop.create_future() for _ in range(3)]
    failing = [loop.create_future()]
    unreadable = [loop.create_future()]
    writer._in_flight.extend(
        [
            (select.sql, asking, select, ["a", "b", "a"]),
            (select.sql, failing, select, ["c"]),
            (select.sql, unreadable, select, ["d"]),
        ]
    )
    rows = orjson.dumps([["a", '{"x": 1}']])
    writer.pipe_data_received(1, found_failed_unreadable(rows, b"OperationalError: disk I/O error"))

    assert [future.result() for future in asking] == [
        {"k": "a", "d": {"x": 1}},
        None,
        {"k": "a", "d": {"x": 1}},
    ]
    with pytest.raises(db.OperationalError, match="disk I/O"):
        failing[0].result()
    with pytest.raises(db.DatabaseError):
        unreadable[0].result()
    assert not writer.ended  # one frame it could not read is that frame's error


def test_only_tables_the_driver_reads_as_they_are_are_read_by_the_child(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kinds.db'}")
    select = lookups.DriverSelect.for_sqlite(engine, grants, grants.c.key)
    assert select is not None and select.sql.rstrip().endswith("IN")
    assert select.row(
        ["k", "access_token", None, None, None, None, '{"a": [1]}', 1, 2, None, None]
    )["data"] == {"a": [1]}
    assert lookups.DriverSelect.for_sqlite(engine, users, users.c.subject_id) is None  # booleans
    memory = create_engine("sqlite+aiosqlite:///:memory:")
    assert lookups.DriverSelect.for_sqlite(memory, grants, grants.c.key) is None


def test_a_read_s_selects_run_before_its_inserts_and_answers_keep_their_order(tmp_path):
    path = table_t(tmp_path / "order.db")
    writer = Database(str(path), 1.0, [])
    writer.connection.execute("INSERT INTO t VALUES ('z', 26)")
    statements = {1: "INSERT INTO t (k, n) VALUES (?, ?)", 2: "SELECT k, n FROM t WHERE k IN "}
    asked = [
        (SELECT, 0, 2, ["z", "a"]),
        (INSERT, 1, 1, [["a", 1], ["b", 2]]),
        (SELECT, 2, 2, ["b", "absent", "z"]),
    ]
    out: list[bytes | str] = []
    writer.answer(asked, statements, out.append, lambda: out.append("flush"))

    # The leading lookup is answered before the transaction, from what was committed.
    assert out[1] == "flush"
    answers = [answer for answer in out if answer != "flush"]
    statuses = [ANSWER.unpack_from(answer)[:2] for answer in answers]
    assert statuses == [(FOUND, 0), (WRITTEN, 1), (FOUND, 2)]
    assert orjson.loads(answers[0][ANSWER.size :]) == [["z", 26]]
    assert orjson.loads(answers[2][ANSWER.size :]) == [["z", 26]]  # not this read's inserts
    rows = sqlite3.connect(path).execute("SELECT k FROM t ORDER BY k").fetchall()
    assert rows == [("a",), ("b",), ("z",)]
    (later,) = writer.answer_in_order([(SELECT, 3, 2, ["a"])], statements)
    assert orjson.loads(later[ANSWER.size :]) == [["a", 1]]  # the next read sees them


def no_thread_consumes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a batched consume on the worker's writer thread fail: only the child consumes."""

    async def refused(*_args: object) -> None:
        raise AssertionError("consumed on the worker's thread")

    monkeypatch.setattr(grant_store, "run_in_transaction", refused)


def consumed_at(path: Path) -> dict[str, int | None]:
    """Each grant's consumed_at, as another connection sees it: committed only."""
    connection = sqlite3.connect(path)
    try:
        return dict(connection.execute("SELECT key, consumed_at FROM grants").fetchall())
    finally:
        connection.close()


async def test_consumes_are_committed_by_the_child_once_each(writing, monkeypatch):
    engine, writer, path = writing
    store = SqlGrantStore(engine)
    await asyncio.gather(*(store.save(record(key)) for key in ["a", "b", "used"]))
    await store.consume("used", GrantKind.ACCESS_TOKEN, 100)
    no_thread_consumes(monkeypatch)
    no_thread_writes(monkeypatch)
    no_thread_reads(monkeypatch)
    frames: list[bytes] = []
    send = writer.send

    def noted(items: list[Any], data: bytes) -> None:
        frames.extend(statement.frame for _, _, statement, _ in items if statement)
        send(items, data)

    monkeypatch.setattr(writer, "send", noted)

    asked = [
        ("a", GrantKind.ACCESS_TOKEN),
        ("a", GrantKind.ACCESS_TOKEN),  # the same handle twice in one turn
        ("b", GrantKind.AUTHORIZATION_CODE),  # another kind of grant under this handle
        ("used", GrantKind.ACCESS_TOKEN),
        ("absent", GrantKind.ACCESS_TOKEN),
        ("b", GrantKind.ACCESS_TOKEN),
    ]
    outcomes = await asyncio.gather(*(store.consume(key, kind, 200) for key, kind in asked))

    assert [outcome for outcome, _ in outcomes] == [
        ConsumeOutcome.CONSUMED,
        ConsumeOutcome.ALREADY_CONSUMED,
        ConsumeOutcome.MISSING,
        ConsumeOutcome.ALREADY_CONSUMED,
        ConsumeOutcome.MISSING,
        ConsumeOutcome.CONSUMED,
    ]
    grants_found = [grant for _, grant in outcomes]
    assert grants_found[0] is not None and grants_found[0].data == {"n": "a"}
    assert grants_found[0].consumed_at == 200
    assert grants_found[3] is not None and grants_found[3].consumed_at == 100
    assert consumed_at(path) == {"a": 200, "b": 200, "used": 100}
    # The turn's six consumes went in one frame; the handles they missed in one lookup.
    assert frames == [UPDATE, SELECT]


@asynccontextmanager
async def held_consume(
    engine: SingleWriterEngine, writer: SqliteProcess
) -> AsyncIterator[asyncio.Future[Any]]:
    """A consume of a stored handle, "held", at 7, sent to the child while it is stopped."""
    store = SqlGrantStore(engine)
    await store.save(record("held"))
    consume = store.consume("held", GrantKind.ACCESS_TOKEN, 7)
    async with held_by_stopped_child(writer, consume) as (consuming,):
        yield consuming


async def test_a_consume_waits_for_the_child_s_commit(writing):
    engine, writer, path = writing
    async with held_consume(engine, writer) as consuming:
        assert consumed_at(path) == {"held": None}
    outcome, grant = await asyncio.wait_for(consuming, READY_SECONDS)
    assert outcome is ConsumeOutcome.CONSUMED and grant is not None
    assert consumed_at(path) == {"held": 7}


async def test_a_consume_held_by_a_killed_child_is_unavailable_not_retried(writing):
    engine, writer, _path = writing
    async with held_consume(engine, writer) as consuming:
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        outcome = await asyncio.wait_for(
            asyncio.gather(consuming, return_exceptions=True), READY_SECONDS
        )
    # Sent and never answered: it may have been consumed, so it is not consumed again
    # elsewhere (a second try could look like reuse); the client is told to retry.
    assert isinstance(outcome[0], db.OperationalError) and database_unavailable(outcome[0])


async def queued_consume(
    engine: SingleWriterEngine, writer: SqliteProcess, key: str, now: int
) -> tuple[SqlGrantStore, asyncio.Future[Any]]:
    """A store, and its consume of a stored ``key`` queued for the end of this turn, not sent."""
    store = SqlGrantStore(engine)
    await store.save(record(key))
    consuming = asyncio.ensure_future(store.consume(key, GrantKind.ACCESS_TOKEN, now))
    await asyncio.sleep(0)
    assert writer._updates  # it waits for the end of the turn to be sent
    return store, consuming


async def test_a_consume_not_yet_sent_when_the_child_ended_runs_on_the_thread(writing):
    engine, writer, path = writing
    _store, consuming = await queued_consume(engine, writer, "late", 5)
    writer._end()
    outcome, _grant = await asyncio.wait_for(consuming, READY_SECONDS)
    assert outcome is ConsumeOutcome.CONSUMED
    assert consumed_at(path) == {"late": 5}


def test_the_child_s_consumes_share_the_transaction_and_survive_a_refused_row(tmp_path):
    path = table_t(tmp_path / "update.db")
    writer = Database(str(path), 1.0, [])
    writer.connection.execute("INSERT INTO t VALUES ('z', NULL), ('y', NULL), ('x', 1)")
    statements = {
        1: "INSERT INTO t (k, n) VALUES (?, ?)",
        2: "UPDATE t SET n = ? WHERE k IN (?*) AND n IS NULL RETURNING k, n",  # a consume
        3: "SELECT k, n FROM t WHERE k IN ",
        4: "UPDATE t SET k = ? WHERE k IN (?*) RETURNING k",  # breaks the primary key
    }
    asked = [
        (SELECT, 0, 3, ["z"]),
        (UPDATE, 1, 2, [[5, ["z"]], [6, ["z"]], [7, ["absent"]]]),  # z twice: consumed once
        (INSERT, 2, 1, [["a", 1], ["y", 2]]),  # y is taken: the rows go one by one
        (UPDATE, 3, 4, [["x", ["y"]]]),  # a failing update fails only its own frame
        (UPDATE, 4, 2, [[8, ["y", "x"]]]),
        (SELECT, 5, 3, ["z"]),
    ]

    answers = writer.answer_in_order(asked, statements)

    statuses = [ANSWER.unpack_from(answer)[:2] for answer in answers]
    assert statuses == [(FOUND, 0), (FOUND, 1), (ROWS, 2), (FAILED, 3), (FOUND, 4), (FOUND, 5)]
    body = [answer[ANSWER.size :] for answer in answers]
    assert body[3].startswith(b"IntegrityError")
    body = [orjson.loads(found) if n != 3 else None for n, found in enumerate(body)]
    assert body[0] == [["z", None]]
    # Rerun after the first transaction was rolled back: z is consumed again, by its
    # first run only, as if the refused row had never been tried.
    assert body[1] == [[["z", 5]], [], []]
    assert body[4] == [[["y", 8]]]  # x was consumed before (n = 1)
    assert body[5] == [["z", None]]  # the selects ran before the writes
    rows = sqlite3.connect(path).execute("SELECT k, n FROM t ORDER BY k").fetchall()
    assert rows == [("a", 1), ("x", 1), ("y", 8), ("z", 5)]


def test_an_update_without_its_list_fails_its_read(tmp_path):
    path = table_t(tmp_path / "nolist.db")
    writer = Database(str(path), 1.0, [])
    statements = {2: "UPDATE t SET n = ? WHERE k IN (?*) RETURNING k"}
    (answer,) = writer.answer_in_order([(UPDATE, 4, 2, [[0, "z"]])], statements)
    assert ANSWER.unpack_from(answer)[:2] == (FAILED, 4)
    assert b"needs one list" in answer
    assert not writer.connection.in_transaction


async def test_the_worker_reads_an_update_s_rows_and_its_failure():
    loop = asyncio.get_running_loop()
    writer = SqliteProcess(Path("unused.db"), 1.0, [], wrote=lambda: None)
    update = lookups.DriverUpdate("UPDATE ...", ("p",), ("k", "d"), frozenset({1}))
    returned, failing, unreadable = (loop.create_future() for _ in range(3))
    writer._in_flight.extend(
        (update.sql, [caller], update, []) for caller in (returned, failing, unreadable)
    )
    rows = orjson.dumps([[["a", '{"x": 1}']]])  # one run, one row
    failure = b"OperationalError: database is locked"
    writer.pipe_data_received(1, found_failed_unreadable(rows, failure))

    assert returned.result() == [{"k": "a", "d": {"x": 1}}]
    with pytest.raises(db.OperationalError, match="locked"):
        failing.result()
    with pytest.raises(db.OperationalError, match="unreadable"):  # committed: a 503
        unreadable.result()
    assert not writer.ended


async def test_an_update_answered_with_too_few_runs_answers_nobody_with_rows():
    loop = asyncio.get_running_loop()
    writer = SqliteProcess(Path("unused.db"), 1.0, [], wrote=lambda: None)
    update = lookups.DriverUpdate("UPDATE ...", ("p",), ("k",), frozenset())
    callers = [loop.create_future() for _ in range(2)]
    writer._in_flight.append((update.sql, callers, update, []))
    rows = orjson.dumps([[["a"]]])  # one run's rows for two runs
    writer.pipe_data_received(1, READY + ANSWER.pack(FOUND, 0, len(rows)) + rows)
    for done in callers:
        with pytest.raises(db.OperationalError, match="1 runs answered for 2"):
            done.result()


async def test_a_consume_cancelled_before_its_turn_is_sent_consumes_nothing(writing):
    engine, writer, path = writing
    store, consuming = await queued_consume(engine, writer, "kept", 3)
    consuming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consuming
    await store.find("kept", GrantKind.ACCESS_TOKEN)  # a round trip through the child
    assert consumed_at(path) == {"kept": None}
    outcome, _grant = await store.consume("kept", GrantKind.ACCESS_TOKEN, 4)
    assert outcome is ConsumeOutcome.CONSUMED
    assert consumed_at(path) == {"kept": 4}


async def test_a_handle_saved_after_a_missed_consume_is_missing_for_it(writing, monkeypatch):
    engine, _writer, _path = writing
    store = SqlGrantStore(engine)
    find = store._lookup.find

    async def saved_meanwhile(key: str) -> object:
        await store.save(record(key))  # between the UPDATE and the look at what it missed
        return await find(key)

    monkeypatch.setattr(store._lookup, "find", saved_meanwhile)
    outcome, grant = await store.consume("late", GrantKind.ACCESS_TOKEN, 3)
    assert (outcome, grant) == (ConsumeOutcome.MISSING, None)  # never "already consumed"


def test_only_a_consume_the_driver_runs_as_it_is_goes_to_the_child(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'consume.db'}")
    update = lookups.DriverUpdate.for_sqlite(engine, grant_store._CONSUME_MANY)
    assert update is not None
    assert update.sql.count("(?*)") == 1 and "POSTCOMPILE" not in update.sql
    assert update.values({"p_now": 3, "p_keys": ["k"], "p_kind": "code"}) == [3, ["k"], "code"]
    assert update.row(["k", "code", None, None, None, None, '{"a": 1}', 1, 2, 3, None])["data"] == {
        "a": 1
    }
    memory = create_engine("sqlite+aiosqlite:///:memory:")
    assert lookups.DriverUpdate.for_sqlite(memory, grant_store._CONSUME_MANY) is None
    assert lookups.DriverUpdate.for_sqlite(engine, grant_store._REVOKE) is None  # no list
    json_data = (
        grant_store.update(grant_store.grants)
        .where(grant_store.grants.c.key.in_(grant_store.bindparam("p", expanding=True)))
        .values(data=grant_store.bindparam("d", type_=grant_store.grants.c.data.type))
        .returning(grant_store.grants.c.key)
    )
    assert lookups.DriverUpdate.for_sqlite(engine, json_data) is None  # JSON needs processing
