"""One GrantStore contract, run on SQLite, PostgreSQL, Redis and SQL+Redis (routing).

Every backend is real: a database file, a fresh PostgreSQL database, the Redis
at TOKENSMITH_TEST_REDIS_URL under a key prefix of the test's own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import delete

from tests.conftest import REDIS_URL, fresh_postgres_database
from tokensmith.composition import compose, stop
from tokensmith.grants._steps import use_jti_once
from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.settings import Settings
from tokensmith.stores.protocols import DuplicateGrant, GrantStore
from tokensmith.stores.redis import RedisGrantStore, RoutingGrantStore
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.tables import grants

NOW = int(time.time())
GRACE = 300

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    "redis",
    "sqlite+redis",
    pytest.param("postgresql+redis", marks=pytest.mark.postgres),
]


def grant(
    key: str = "k1",
    kind: GrantKind = GrantKind.AUTHORIZATION_CODE,
    *,
    family_id: str | None = "family-1",
    expires_at: int = NOW + 60,
    **fields,
) -> StoredGrant:
    values = {
        "client_id": "web-app",
        "subject_id": "sub-alice",
        "session_id": "sid-1",
        "created_at": NOW,
        "data": {"scopes": ["openid"], "resources": [], "nonce": "n-ü", "auth_time": 1.5},
    }
    values.update(fields)
    return StoredGrant(key=key, kind=kind, family_id=family_id, expires_at=expires_at, **values)


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def redis_store(redis_client: Redis, redis_key_prefix: str) -> RedisGrantStore:
    return RedisGrantStore(redis_client, redis_key_prefix, grace_seconds=GRACE)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqlGrantStore]:
    async for store in _sql_store(f"sqlite+aiosqlite:///{tmp_path / 'grants.db'}"):
        yield store


@pytest.fixture(scope="module")
def postgres_grants_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module: one per test would cost a second each."""
    with fresh_postgres_database("ts_grants") as url:
        yield url


async def _sql_store(url: str) -> AsyncIterator[SqlGrantStore]:
    """A grant store over ``url`` with the schema and no grants."""
    engine = create_engine(url)
    try:
        await create_schema(engine)
        async with engine.begin() as connection:
            await connection.execute(delete(grants))
        yield SqlGrantStore(engine)
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, bool]:
    """The SQL database URL (None: Redis alone) and whether Redis is used."""
    sql_name, _, redis_name = request.param.partition("+")
    if sql_name == "redis":
        return None, True
    if sql_name == "postgresql":
        return request.getfixturevalue("postgres_grants_url"), bool(redis_name)
    return f"sqlite+aiosqlite:///{tmp_path / 'grants.db'}", bool(redis_name)


@pytest.fixture
async def store(backend, redis_store) -> AsyncIterator[GrantStore]:
    """The store under test; the routing ones keep codes in Redis and tokens in SQL."""
    sql_url, uses_redis = backend
    if sql_url is None:
        yield redis_store
        return
    async for sql in _sql_store(sql_url):
        yield RoutingGrantStore(sql, redis_store) if uses_redis else sql


async def test_saved_grant_is_found_with_every_field(store):
    saved = grant(consumed_at=None, revoked_at=None)
    await store.save(saved)
    assert await store.find("k1", GrantKind.AUTHORIZATION_CODE) == saved
    bare = grant("k2", family_id=None, client_id=None, subject_id=None, session_id=None, data={})
    await store.save(bare)
    assert await store.find("k2", GrantKind.AUTHORIZATION_CODE) == bare


async def test_find_is_none_for_an_unknown_key_or_another_kind(store):
    await store.save(grant())
    assert await store.find("absent", GrantKind.AUTHORIZATION_CODE) is None
    assert await store.find("k1", GrantKind.DEVICE_CODE) is None


async def test_saving_a_taken_key_raises_duplicate_grant_and_keeps_the_first(store):
    await store.save(grant(data={"first": True}))
    with pytest.raises(DuplicateGrant):
        await store.save(grant(data={"first": False}))
    found = await store.find("k1", GrantKind.AUTHORIZATION_CODE)
    assert found is not None
    assert found.data == {"first": True}


async def test_a_jwt_id_is_accepted_once_then_refused_as_a_replay(store):
    assert await use_jti_once(store, "https://issuer.example", "jti-1", NOW + 60)
    assert not await use_jti_once(store, "https://issuer.example", "jti-1", NOW + 60)
    assert await use_jti_once(store, "https://other.example", "jti-1", NOW + 60)


async def test_replace_inserts_then_overwrites(store):
    counter = grant("c", GrantKind.LOGIN_FAILURES, family_id=None, data={"count": 1})
    await store.replace(counter)
    await store.replace(replace(counter, data={"count": 2}))
    assert await store.find("c", GrantKind.LOGIN_FAILURES) == replace(counter, data={"count": 2})


async def test_consume_succeeds_once_then_reports_the_earlier_use(store):
    await store.save(grant())
    first = await store.consume("k1", GrantKind.AUTHORIZATION_CODE, NOW)
    assert first == (ConsumeOutcome.CONSUMED, grant(consumed_at=NOW))
    again = await store.consume("k1", GrantKind.AUTHORIZATION_CODE, NOW + 5)
    assert again == (ConsumeOutcome.ALREADY_CONSUMED, grant(consumed_at=NOW))


async def test_consume_of_an_unknown_key_or_another_kind_is_missing(store):
    await store.save(grant())
    assert await store.consume("absent", GrantKind.AUTHORIZATION_CODE, NOW) == (
        ConsumeOutcome.MISSING,
        None,
    )
    assert await store.consume("k1", GrantKind.DEVICE_CODE, NOW) == (ConsumeOutcome.MISSING, None)
    found = await store.find("k1", GrantKind.AUTHORIZATION_CODE)
    assert found is not None
    assert found.consumed_at is None


async def test_fifty_concurrent_consumes_yield_exactly_one_consumed(store):
    await store.save(grant())
    # Open the connections first, so that all fifty requests are in flight together.
    await asyncio.gather(*(store.find("k1", GrantKind.AUTHORIZATION_CODE) for _ in range(50)))
    results = await asyncio.gather(
        *(store.consume("k1", GrantKind.AUTHORIZATION_CODE, NOW + i) for i in range(50))
    )
    outcomes = [outcome for outcome, _ in results]
    assert outcomes.count(ConsumeOutcome.CONSUMED) == 1
    assert outcomes.count(ConsumeOutcome.ALREADY_CONSUMED) == 49
    (winner,) = [record for outcome, record in results if outcome is ConsumeOutcome.CONSUMED]
    assert {record.consumed_at for _, record in results} == {winner.consumed_at}


async def test_update_data_changes_an_unconsumed_grant_only(store):
    await store.save(grant(kind=GrantKind.DEVICE_CODE))
    new_data = {"status": "approved", "scopes": [], "last_poll": 1700000000.123456}
    assert await store.update_data("k1", GrantKind.DEVICE_CODE, new_data)
    found = await store.find("k1", GrantKind.DEVICE_CODE)
    assert found is not None
    assert found.data == new_data
    await store.consume("k1", GrantKind.DEVICE_CODE, NOW)
    assert not await store.update_data("k1", GrantKind.DEVICE_CODE, {"status": "stale"})
    assert not await store.update_data("absent", GrantKind.DEVICE_CODE, {"status": "x"})
    assert not await store.update_data("k1", GrantKind.AUTHORIZATION_CODE, {"status": "x"})
    found = await store.find("k1", GrantKind.DEVICE_CODE)
    assert found is not None
    assert (found.data, found.consumed_at) == (new_data, NOW)


async def test_update_data_never_undoes_a_concurrent_consume(store):
    await store.save(grant(kind=GrantKind.DEVICE_CODE, data={"polls": 0}))
    await asyncio.gather(*(store.find("k1", GrantKind.DEVICE_CODE) for _ in range(30)))

    async def poll(i: int) -> bool:
        return await store.update_data("k1", GrantKind.DEVICE_CODE, {"polls": i})

    async def redeem() -> ConsumeOutcome:
        outcome, _ = await store.consume("k1", GrantKind.DEVICE_CODE, NOW)
        return outcome

    calls = [poll(i) for i in range(1, 26)]
    calls.insert(12, redeem())
    calls.append(redeem())
    results = await asyncio.gather(*calls)
    outcomes = [result for result in results if isinstance(result, ConsumeOutcome)]
    assert sorted(outcomes) == [ConsumeOutcome.ALREADY_CONSUMED, ConsumeOutcome.CONSUMED]
    found = await store.find("k1", GrantKind.DEVICE_CODE)
    assert found is not None
    assert found.consumed_at == NOW
    assert not await store.update_data("k1", GrantKind.DEVICE_CODE, {"polls": 99})


async def test_revoke_family_revokes_every_member_once(store):
    await store.save(grant("code"))
    await store.save(grant("rt-1", GrantKind.REFRESH_TOKEN, expires_at=NOW + 86400))
    await store.save(grant("rt-2", GrantKind.REFRESH_TOKEN, expires_at=NOW + 86400))
    await store.save(grant("other", GrantKind.REFRESH_TOKEN, family_id="family-2"))
    assert await store.revoke_family("family-1", NOW) == 3
    assert await store.revoke_family("family-1", NOW + 5) == 0
    for key, kind in [("code", GrantKind.AUTHORIZATION_CODE), ("rt-2", GrantKind.REFRESH_TOKEN)]:
        found = await store.find(key, kind)
        assert found is not None
        assert found.revoked_at == NOW
    other = await store.find("other", GrantKind.REFRESH_TOKEN)
    assert other is not None
    assert other.revoked_at is None
    assert await store.revoke_family("no-such-family", NOW) == 0


async def test_revoke_family_skips_a_grant_replaced_into_another_family(store):
    await store.save(grant("code"))
    await store.replace(grant("code", family_id="family-2"))
    assert await store.revoke_family("family-1", NOW) == 0
    found = await store.find("code", GrantKind.AUTHORIZATION_CODE)
    assert found is not None
    assert found.revoked_at is None
    assert await store.revoke_family("family-2", NOW) == 1


async def test_revoke_marks_one_grant_and_keeps_the_first_time(store):
    await store.save(grant("code"))
    await store.save(grant("rt", GrantKind.REFRESH_TOKEN))
    await store.revoke("code", NOW)
    await store.revoke("code", NOW + 5)
    await store.revoke("rt", NOW + 1)
    await store.revoke("absent", NOW)
    code = await store.find("code", GrantKind.AUTHORIZATION_CODE)
    refresh = await store.find("rt", GrantKind.REFRESH_TOKEN)
    assert code is not None
    assert refresh is not None
    assert (code.revoked_at, refresh.revoked_at) == (NOW, NOW + 1)
    assert await store.find("absent", GrantKind.AUTHORIZATION_CODE) is None


async def test_remove_deletes_the_grant_and_its_family_membership(store):
    await store.save(grant("code"))
    await store.save(grant("rt", GrantKind.REFRESH_TOKEN))
    await store.remove("code")
    await store.remove("rt")
    await store.remove("absent")
    assert await store.find("code", GrantKind.AUTHORIZATION_CODE) is None
    assert await store.find("rt", GrantKind.REFRESH_TOKEN) is None
    assert await store.revoke_family("family-1", NOW) == 0
    await store.save(grant("code"))
    assert await store.find("code", GrantKind.AUTHORIZATION_CODE) == grant("code")


async def test_an_expired_grant_is_still_found_and_consumable_but_not_live(store):
    expired = grant(expires_at=NOW - 10)
    await store.save(expired)
    found = await store.find("k1", GrantKind.AUTHORIZATION_CODE)
    assert found == expired
    assert not found.is_live(NOW)
    outcome, _ = await store.consume("k1", GrantKind.AUTHORIZATION_CODE, NOW)
    assert outcome is ConsumeOutcome.CONSUMED
    # A replay after expiry is still recognised, so its family can be revoked.
    outcome, _ = await store.consume("k1", GrantKind.AUTHORIZATION_CODE, NOW)
    assert outcome is ConsumeOutcome.ALREADY_CONSUMED


async def test_redis_keys_expire_a_grace_period_after_the_grant(
    redis_store, redis_client, redis_key_prefix
):
    await redis_store.save(grant("code", expires_at=int(time.time()) + 60))
    await redis_store.save(grant("rt", expires_at=int(time.time()) + 600))
    await redis_store.save(grant("late", expires_at=int(time.time()) - 10, family_id=None))
    await redis_store.save(grant("stale", expires_at=int(time.time()) - 3600, family_id=None))
    await redis_store.replace(grant("counter", GrantKind.LOGIN_FAILURES, family_id=None))

    async def ttl(name: str) -> int:
        return await redis_client.ttl(f"{redis_key_prefix}:{name}")

    assert 60 + GRACE - 2 <= await ttl("grant:code") <= 60 + GRACE
    assert 600 + GRACE - 2 <= await ttl("grant:rt") <= 600 + GRACE
    assert GRACE - 12 <= await ttl("grant:late") <= GRACE - 10
    assert await ttl("grant:stale") == 1  # past its grace already: kept only a second
    assert 0 < await ttl("grant:counter") <= 60 + GRACE
    assert 600 + GRACE - 2 <= await ttl("family:family-1") <= 600 + GRACE
    await redis_store.consume("code", GrantKind.AUTHORIZATION_CODE, NOW)
    await redis_store.update_data("rt", GrantKind.AUTHORIZATION_CODE, {"x": 1})
    await redis_store.revoke_family("family-1", NOW)
    assert await ttl("grant:code") > 0
    assert await ttl("grant:rt") > 0


async def test_redis_keys_are_laid_out_under_the_prefix(
    redis_store, redis_client, redis_key_prefix
):
    await redis_store.save(grant("code"))
    keys = {key.decode() async for key in redis_client.scan_iter(match=f"{redis_key_prefix}:*")}
    assert keys == {f"{redis_key_prefix}:grant:code", f"{redis_key_prefix}:family:family-1"}
    fields = await redis_client.hgetall(f"{redis_key_prefix}:grant:code")
    assert fields[b"kind"] == b"authorization_code"
    assert b"consumed_at" not in fields


async def test_routing_keeps_short_lived_kinds_in_redis_and_the_rest_in_sql(
    redis_store, sqlite_store
):
    store = RoutingGrantStore(sqlite_store, redis_store)
    for kind in GrantKind:
        await store.save(grant(kind.value, kind))
    short_lived = {
        GrantKind.AUTHORIZATION_CODE,
        GrantKind.DEVICE_CODE,
        GrantKind.BACKCHANNEL_REQUEST,
        GrantKind.INTERACTION,
        GrantKind.PUSHED_AUTHORIZATION_REQUEST,
        GrantKind.USED_JTI,
        GrantKind.LOGIN_FAILURES,
    }
    for kind in GrantKind:
        in_redis = await redis_store.find(kind.value, kind)
        in_sql = await sqlite_store.find(kind.value, kind)
        assert (in_redis is not None, in_sql is not None) == (
            kind in short_lived,
            kind not in short_lived,
        ), kind


async def test_routing_revokes_and_removes_a_family_across_redis_and_sql(redis_store, sqlite_store):
    store = RoutingGrantStore(sqlite_store, redis_store)
    await store.save(grant("code"))
    await store.save(grant("rt", GrantKind.REFRESH_TOKEN))
    assert await store.revoke_family("family-1", NOW) == 2
    code = await redis_store.find("code", GrantKind.AUTHORIZATION_CODE)
    refresh = await sqlite_store.find("rt", GrantKind.REFRESH_TOKEN)
    assert code is not None
    assert refresh is not None
    assert (code.revoked_at, refresh.revoked_at) == (NOW, NOW)
    await store.remove("code")
    await store.remove("rt")
    assert await redis_store.find("code", GrantKind.AUTHORIZATION_CODE) is None
    assert await sqlite_store.find("rt", GrantKind.REFRESH_TOKEN) is None


async def test_redis_url_setting_routes_short_lived_grants_to_redis(
    make_settings, redis_key_prefix, redis_client
):
    settings = make_settings(redis_url=REDIS_URL, redis_key_prefix=redis_key_prefix)
    components = compose(settings)
    try:
        assert isinstance(components["grants"], RoutingGrantStore)
        await components["login_throttle"].record_failure("alice")
        assert await redis_client.keys(f"{redis_key_prefix}:grant:*")
    finally:
        await stop(components)


def test_redis_url_must_be_a_redis_url(tmp_path):
    with pytest.raises(ValidationError, match="redis_url"):
        Settings(data_dir=tmp_path, redis_url="http://127.0.0.1:6379")
