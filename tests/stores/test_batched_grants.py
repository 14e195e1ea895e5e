"""Batched finds and consumes: shared round trips, and each caller still gets its own outcome."""

from __future__ import annotations

import asyncio

import orjson
from sqlalchemy import event, text

from tests.helpers import busy_turns
from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.models.user import User
from tokensmith.stores.sql.engine import create_engine, create_schema, sync_engines
from tokensmith.stores.sql.grants import SqlGrantStore, _row_from_grant
from tokensmith.stores.sql.users import SqlUserStore


def record(key: str, kind: GrantKind = GrantKind.REFRESH_TOKEN) -> StoredGrant:
    return StoredGrant(key, kind, "c", "alice", 0, 2**31 - 1, data={"n": key})


def count_statements(engine, prefix: str) -> list[str]:
    seen: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many) -> None:
        if statement.lstrip().upper().startswith(prefix):
            seen.append(statement)

    for sync_engine in sync_engines(engine):
        event.listen(sync_engine, "before_cursor_execute", before)
    return seen


async def test_concurrent_finds_share_selects_and_each_gets_its_own_record(engine):
    store = SqlGrantStore(engine)
    keys = [f"k{i}" for i in range(40)]
    await asyncio.gather(*(store.save(record(key)) for key in keys))
    selects = count_statements(engine, "SELECT")
    asked = [*keys, "missing", "k3"]
    found = await asyncio.gather(*(store.find(key, GrantKind.REFRESH_TOKEN) for key in asked))
    assert [None if grant is None else grant.data["n"] for grant in found] == [
        *keys,
        None,
        "k3",
    ]
    assert 1 <= len(selects) < len(asked)


async def test_a_find_for_another_kind_finds_nothing(engine):
    store = SqlGrantStore(engine)
    await store.save(record("code1", GrantKind.AUTHORIZATION_CODE))
    found = await asyncio.gather(
        store.find("code1", GrantKind.REFRESH_TOKEN),
        store.find("code1", GrantKind.AUTHORIZATION_CODE),
    )
    assert found[0] is None
    assert found[1] is not None and found[1].kind is GrantKind.AUTHORIZATION_CODE


async def test_a_find_sees_what_was_committed_before_it_was_asked(engine):
    store = SqlGrantStore(engine)
    for i in range(20):  # saves and finds interleaved: every find must see its save
        key = f"seq{i}"
        slow_finds = [store.find(f"other{j}", GrantKind.REFRESH_TOKEN) for j in range(5)]
        pending = asyncio.gather(*slow_finds)
        await store.save(record(key))
        assert await store.find(key, GrantKind.REFRESH_TOKEN) is not None
        await pending


async def test_one_handle_consumed_by_fifty_callers_at_once_is_consumed_once(engine):
    store = SqlGrantStore(engine)
    await store.save(record("once"))
    outcomes = await asyncio.gather(
        *(store.consume("once", GrantKind.REFRESH_TOKEN, 100) for _ in range(50))
    )
    kinds = [outcome for outcome, _ in outcomes]
    assert kinds.count(ConsumeOutcome.CONSUMED) == 1
    assert kinds.count(ConsumeOutcome.ALREADY_CONSUMED) == 49
    assert all(grant is not None and grant.consumed_at == 100 for _, grant in outcomes)


async def test_a_batch_of_consumes_gives_each_handle_its_own_outcome(engine):
    store = SqlGrantStore(engine)
    for key in ("fresh1", "fresh2", "used"):
        await store.save(record(key))
    await store.save(record("a-code", GrantKind.AUTHORIZATION_CODE))
    assert (await store.consume("used", GrantKind.REFRESH_TOKEN, 50))[0] is ConsumeOutcome.CONSUMED
    updates = count_statements(engine, "UPDATE")
    outcomes = await asyncio.gather(
        store.consume("fresh1", GrantKind.REFRESH_TOKEN, 100),
        store.consume("used", GrantKind.REFRESH_TOKEN, 100),
        store.consume("nothing", GrantKind.REFRESH_TOKEN, 100),
        store.consume("a-code", GrantKind.REFRESH_TOKEN, 100),  # wrong kind
        store.consume("fresh2", GrantKind.REFRESH_TOKEN, 101),  # another second
        store.consume("a-code", GrantKind.AUTHORIZATION_CODE, 100),
    )
    assert [outcome for outcome, _ in outcomes] == [
        ConsumeOutcome.CONSUMED,
        ConsumeOutcome.ALREADY_CONSUMED,
        ConsumeOutcome.MISSING,
        ConsumeOutcome.MISSING,
        ConsumeOutcome.CONSUMED,
        ConsumeOutcome.CONSUMED,
    ]
    used = outcomes[1][1]
    assert used is not None and used.consumed_at == 50  # the first consume's time stays
    assert outcomes[4][1] is not None and outcomes[4][1].consumed_at == 101
    assert len(updates) < len(outcomes)
    again = await store.consume("fresh1", GrantKind.REFRESH_TOKEN, 200)
    assert again[0] is ConsumeOutcome.ALREADY_CONSUMED


async def test_concurrent_user_lookups_each_get_their_own_user(engine):
    users = SqlUserStore(engine)
    for name in ("ann", "bob", "cy"):
        await users.add_user(User(subject_id=f"sub-{name}", username=name), None)
    found = await asyncio.gather(
        *(users.find_user_by_subject(s) for s in ("sub-bob", "nobody", "sub-ann", "sub-cy"))
    )
    assert [user.username if user else None for user in found] == ["bob", None, "ann", "cy"]


async def test_sqlite_thread_writes_wait_for_the_process_s_other_writes(tmp_path):
    """The one-hand-off path and the async engine share the write lock: no busy errors."""
    from sqlalchemy import insert

    from tokensmith.stores.sql.engine import create_engine, create_schema
    from tokensmith.stores.sql.tables import grants

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}", sqlite_busy_timeout_ms=0)
    await create_schema(engine)
    store = SqlGrantStore(engine)
    holding = asyncio.Event()

    async def slow_async_write() -> None:
        async with engine.begin() as connection:
            await connection.execute(insert(grants), _row_from_grant(record("async-row")))
            holding.set()
            await asyncio.sleep(0.2)  # the write lock is held across this

    try:
        writer = asyncio.create_task(slow_async_write())
        await holding.wait()
        await store.save(record("thread-row"))  # would fail "database is locked" without the lock
        await writer
        assert await store.find("async-row", GrantKind.REFRESH_TOKEN) is not None
        assert await store.find("thread-row", GrantKind.REFRESH_TOKEN) is not None
    finally:
        await engine.dispose()


async def test_grant_data_is_stored_as_orjson_text_and_read_back(engine):
    store = SqlGrantStore(engine)
    data = {"scopes": ["api:read"], "claims": {"exp": 2**40, "nested": {"ok": True}}}
    grant = StoredGrant("json1", GrantKind.REFRESH_TOKEN, "c", "alice", 0, 2**31 - 1, data=data)
    await store.save(grant)
    async with engine.connect() as connection:
        stored = await connection.scalar(text("SELECT CAST(data AS TEXT) FROM grants"))
    assert stored == orjson.dumps(data).decode()  # compact: the json module writes ", " and ": "
    found = await store.find("json1", GrantKind.REFRESH_TOKEN)
    assert found is not None and found.data == data


async def test_on_a_sqlite_file_consumes_arriving_turn_after_turn_share_one_update(tmp_path):
    """The consume batch goes to the writer thread once consumes stop coming (batching.py)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'settle.db'}")
    await create_schema(engine)
    store = SqlGrantStore(engine)
    keys = [f"r{n}" for n in range(8)]
    for key in keys:
        await store.save(record(key))
    updates = count_statements(engine, "UPDATE")

    async def consume_after(turns: int) -> ConsumeOutcome:
        await busy_turns(turns)  # a writer thread handed the batch would take it meanwhile
        outcome, _ = await store.consume(keys[turns], GrantKind.REFRESH_TOKEN, 100)
        return outcome

    try:
        outcomes = await asyncio.gather(*(consume_after(turns) for turns in range(8)))
        assert outcomes == [ConsumeOutcome.CONSUMED] * 8
        assert len(updates) == 1
    finally:
        await engine.dispose()
