"""Group commit: concurrent saves share transactions, and each caller gets its own outcome."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Enum,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    insert,
    select,
)

from tests.helpers import busy_turns
from tokensmith.models.grant import GrantKind, StoredGrant
from tokensmith.stores.protocols import DuplicateGrant
from tokensmith.stores.sql.batching import SETTLE_TURNS
from tokensmith.stores.sql.engine import (
    create_engine,
    create_schema,
    sync_engines,
    thread_settle_turns,
)
from tokensmith.stores.sql.grants import SqlGrantStore, _row_from_grant
from tokensmith.stores.sql.group_commit import DriverInsert
from tokensmith.stores.sql.tables import grants
from tokensmith.stores.sql.write_turns import ProcessWriteTurns


def record(key: str) -> StoredGrant:
    return StoredGrant(key, GrantKind.ACCESS_TOKEN, "c", None, 0, 2**31 - 1, data={"n": key})


def count_commits(engine) -> list[int]:
    commits: list[int] = []
    for sync_engine in sync_engines(engine):
        event.listen(sync_engine, "commit", lambda _connection: commits.append(1))
    return commits


async def stored_keys(engine) -> set[str]:
    async with engine.connect() as connection:
        return set((await connection.execute(select(grants.c.key))).scalars())


async def test_concurrent_saves_are_all_committed_in_fewer_transactions(engine):
    store = SqlGrantStore(engine)
    commits = count_commits(engine)
    keys = [f"k{i}" for i in range(100)]
    await asyncio.gather(*(store.save(record(key)) for key in keys))
    assert await stored_keys(engine) == set(keys)
    assert 1 <= len(commits) < len(keys)
    found = await store.find("k42", GrantKind.ACCESS_TOKEN)
    assert found is not None and found.data == {"n": "k42"}


async def test_a_duplicate_in_a_batch_fails_only_its_own_save(engine):
    store = SqlGrantStore(engine)
    await store.save(record("taken"))
    keys = ["a", "b", "taken", "c", "d"]
    outcomes = await asyncio.gather(
        *(store.save(record(key)) for key in keys), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [
        type(None),
        type(None),
        DuplicateGrant,
        type(None),
        type(None),
    ]
    assert await stored_keys(engine) == {"a", "b", "c", "d", "taken"}


async def test_the_same_key_twice_at_once_is_saved_once(engine):
    store = SqlGrantStore(engine)
    outcomes = await asyncio.gather(
        store.save(record("twice")), store.save(record("twice")), return_exceptions=True
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["DuplicateGrant", "NoneType"]
    async with engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(grants))).scalar()
    assert count == 1


async def test_a_busy_database_fails_every_waiting_save_and_none_hangs(tmp_path):
    path = tmp_path / "busy.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=0)
    await create_schema(engine)
    store = SqlGrantStore(engine)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        saves = [store.save(record(f"busy{i}")) for i in range(10)]
        outcomes = await asyncio.wait_for(asyncio.gather(*saves, return_exceptions=True), 10)
        assert all(isinstance(outcome, Exception) for outcome in outcomes)
        assert "locked" in str(outcomes[0])
        other.execute("ROLLBACK")
        await store.save(record("later"))  # the queue is not stuck
        assert await stored_keys(engine) == {"later"}
    finally:
        other.close()
        await engine.dispose()


async def test_a_cancelled_save_does_not_disturb_the_others(engine):
    store = SqlGrantStore(engine)
    first = asyncio.ensure_future(store.save(record("gone")))
    rest = [asyncio.ensure_future(store.save(record(f"r{i}"))) for i in range(5)]
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(*rest)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert {f"r{i}" for i in range(5)} <= await stored_keys(engine)


def _table_with(*columns: Column) -> Table:
    return Table("t", MetaData(), Column("key", String(8), primary_key=True), *columns)


async def test_sqlite_batches_go_to_the_driver_as_tuples_in_the_statement_s_order(engine):
    driver_insert = DriverInsert.for_sqlite(engine, insert(grants))
    if engine.dialect.name != "sqlite":
        assert driver_insert is None  # PostgreSQL: SQLAlchemy's execute, a round trip per batch
        return
    assert driver_insert is not None
    assert driver_insert.columns[0] == "key" and len(driver_insert.columns) == len(grants.c)
    assert driver_insert.sql.count("?") == len(grants.c)
    row = _row_from_grant(record("k1"))
    values = driver_insert.values(row)
    assert values[driver_insert.columns.index("data")] == '{"n":"k1"}'  # JSON text, orjson
    assert values[driver_insert.columns.index("client_id")] == "c"
    compiled_by_sqlalchemy: list[bool] = []  # per INSERT: compiled and processed, or not

    def seen(_connection, _cursor, statement, _parameters, context, _many):
        if statement.startswith("INSERT INTO grants"):
            compiled_by_sqlalchemy.append(context.compiled is not None)

    for sync_engine in sync_engines(engine):
        event.listen(sync_engine, "before_cursor_execute", seen)
    store = SqlGrantStore(engine)
    await asyncio.gather(*(store.save(record(f"k{i}")) for i in range(20)))
    assert compiled_by_sqlalchemy and not any(compiled_by_sqlalchemy)
    found = await store.find("k7", GrantKind.ACCESS_TOKEN)
    assert found is not None and found.data == {"n": "k7"} and found.client_id == "c"


async def test_a_table_whose_values_need_sqlalchemy_keeps_its_statement(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    try:
        assert (
            DriverInsert.for_sqlite(engine, insert(_table_with(Column("n", Integer)))) is not None
        )
        with_default = _table_with(Column("n", Integer, default=3))
        assert DriverInsert.for_sqlite(engine, insert(with_default)) is None
        with_server_default = _table_with(Column("n", Integer, server_default="3"))
        assert DriverInsert.for_sqlite(engine, insert(with_server_default)) is None
        with_datetime = _table_with(Column("at", DateTime))
        assert DriverInsert.for_sqlite(engine, insert(with_datetime)) is None
        with_enum = _table_with(Column("kind", Enum("a", "b")))  # an Enum is a String
        assert DriverInsert.for_sqlite(engine, insert(with_enum)) is None
    finally:
        await engine.dispose()


async def test_saves_made_while_the_writer_waits_for_its_turn_join_its_transaction(tmp_path):
    path = tmp_path / "turns.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    store = SqlGrantStore(engine)
    commits = count_commits(engine)
    try:
        with ProcessWriteTurns(path, 5):  # another process is writing
            first = asyncio.create_task(store.save(record("first")))
            await asyncio.sleep(0.2)  # its round trip is on the writer thread, waiting its turn
            later = [asyncio.create_task(store.save(record(f"later{i}"))) for i in range(3)]
            await asyncio.sleep(0.05)
        await asyncio.gather(first, *later)
        assert await stored_keys(engine) == {"first", "later0", "later1", "later2"}
        assert len(commits) == 1  # taken on the thread once it could write: one transaction
    finally:
        await engine.dispose()


async def test_on_a_sqlite_file_saves_arriving_turn_after_turn_share_one_transaction(tmp_path):
    """The writer thread is handed the batch once saves stop coming (batching.py)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'settle.db'}")
    await create_schema(engine)
    store = SqlGrantStore(engine)
    commits = count_commits(engine)

    async def save_after(turns: int) -> None:
        await busy_turns(turns)  # a writer thread handed the batch would take it meanwhile
        await store.save(record(f"k{turns}"))

    try:
        await asyncio.gather(*(save_after(turns) for turns in range(8)))
        assert await stored_keys(engine) == {f"k{turns}" for turns in range(8)}
        assert len(commits) == 1
    finally:
        await engine.dispose()


async def test_only_writes_through_the_writer_thread_settle(tmp_path):
    on_file = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    in_memory = create_engine("sqlite+aiosqlite://")
    postgres = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        assert thread_settle_turns(on_file) == SETTLE_TURNS
        assert thread_settle_turns(in_memory) == 0
        assert thread_settle_turns(postgres) == 0
    finally:
        for engine in (on_file, in_memory, postgres):
            await engine.dispose()
