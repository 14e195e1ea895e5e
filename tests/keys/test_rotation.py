"""Rotation and retirement over real SQLite and PostgreSQL, the clock moved by the test."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from tests.keys.conftest import DAY, POLICY, START, published_kids, sign, verifies
from tokensmith.keys import KeyLifecycleError, KeyPolicy
from tokensmith.keys.material import generate_stored_key
from tokensmith.models.client import Client
from tokensmith.stores.protocols import StoredKey
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.keys import SqlKeyStore

ANNOUNCE = POLICY.announce_seconds
REMOVAL = POLICY.removal_delay


class LockstepKeyStore(SqlKeyStore):
    """A store whose first listing waits for ``parties`` callers: all decide on the same rows."""

    def __init__(self, engine, barrier: asyncio.Barrier):
        super().__init__(engine)
        self._barrier: asyncio.Barrier | None = barrier

    async def list_keys(self) -> list[StoredKey]:
        keys = await super().list_keys()
        barrier, self._barrier = self._barrier, None
        if barrier is not None:
            await barrier.wait()
        return keys


async def test_rotate_publishes_the_new_key_before_it_signs(make_manager, clock):
    keys = make_manager()
    await keys.ensure_signing_key()
    old = keys.active.kid
    new = await keys.rotation.rotate()
    await keys.load()
    assert published_kids(keys) == [old, new.kid]
    assert [state.status for state in keys.states()] == ["active", "next"]
    clock.advance(ANNOUNCE - 1)
    assert keys.active.kid == old
    clock.advance(1)
    assert keys.active.kid == new.kid
    assert [state.status for state in keys.states()] == ["retired", "active"]
    assert published_kids(keys) == [old, new.kid]


async def test_rotate_now_signs_with_the_new_key_at_once_and_keeps_the_old_one_published(
    make_manager,
):
    keys = make_manager()
    await keys.ensure_signing_key()
    old = keys.active.kid
    new = await keys.rotation.rotate(immediately=True)
    await keys.load()
    assert keys.active.kid == new.kid
    assert published_kids(keys) == [old, new.kid]


async def test_tokens_signed_by_a_superseded_key_verify_until_its_removal(make_manager, clock):
    keys = make_manager()
    await keys.ensure_signing_key()
    old = keys.active.kid
    token = sign(keys)
    await keys.rotation.rotate(immediately=True)
    await keys.load()
    assert verifies(keys, token)
    assert verifies(keys, sign(keys))
    clock.advance(REMOVAL - 1)
    assert verifies(keys, token)
    assert old in published_kids(keys)
    clock.advance(1)
    assert not verifies(keys, token)
    assert old not in published_kids(keys)
    assert [state.status for state in keys.states()] == ["expired", "active"]


async def test_removal_waits_for_the_longest_stored_client_token_lifetime(
    engine, make_manager, clock
):
    await SqlClientStore(engine).add_client(
        Client(
            client_id="long-lived",
            client_name=None,
            token_endpoint_auth_method="client_secret_basic",
            grant_types=frozenset({"client_credentials"}),
            scopes=frozenset(),
            secret_hashes=(),
            access_token_lifetime=REMOVAL * 3,
        )
    )
    keys = make_manager()
    await keys.ensure_signing_key()
    await keys.rotation.rotate()
    retired = await keys.rotation.retire(keys.active.kid)
    assert retired.remove_after == int(clock()) + REMOVAL * 3


async def test_retiring_the_active_key_hands_signing_to_the_next_key_at_once(make_manager, clock):
    keys = make_manager()
    await keys.ensure_signing_key()
    old = keys.active.kid
    new = await keys.rotation.rotate()
    retired = await keys.rotation.retire(old)
    assert (retired.status, retired.retired_at) == ("retired", int(clock()))
    assert retired.remove_after == int(clock()) + REMOVAL
    await keys.load()
    assert keys.active.kid == new.kid
    assert published_kids(keys) == [old, new.kid]


async def test_retire_refuses_to_leave_no_signing_key(make_manager):
    keys = make_manager()
    await keys.ensure_signing_key()
    only = keys.active.kid
    with pytest.raises(KeyLifecycleError, match="only one that can sign"):
        await keys.rotation.retire(only)
    next_key = await keys.rotation.rotate()
    await keys.rotation.retire(next_key.kid)
    with pytest.raises(KeyLifecycleError, match="only one that can sign"):
        await keys.rotation.retire(only)
    await keys.load()
    assert keys.active.kid == only


async def test_a_retired_next_key_never_signs(make_manager, clock):
    keys = make_manager()
    await keys.ensure_signing_key()
    old = keys.active.kid
    unused = await keys.rotation.rotate()
    assert (await keys.rotation.retire(unused.kid)).status == "retired"
    await keys.load()
    clock.advance(ANNOUNCE)
    assert keys.active.kid == old


async def test_retiring_an_unknown_kid_is_refused(make_manager):
    keys = make_manager()
    await keys.ensure_signing_key()
    with pytest.raises(KeyLifecycleError, match="no signing key has kid 'nope'"):
        await keys.rotation.retire("nope")


async def test_automatic_rotation_adds_the_next_key_once_the_active_one_is_old(
    engine, make_manager, clock
):
    keys = make_manager()
    await keys.refresh()
    first = keys.active.kid
    clock.advance(90 * DAY - 1)
    await keys.refresh()
    assert published_kids(keys) == [first]
    clock.advance(1)
    await keys.refresh()
    await keys.refresh()
    assert [state.status for state in keys.states()] == ["active", "next"]
    clock.advance(ANNOUNCE)
    await keys.refresh()
    second = keys.active.kid
    assert second != first
    stored_first, _ = await SqlKeyStore(engine).list_keys()
    assert (stored_first.retired_at, stored_first.remove_after) == (
        int(clock()),
        int(clock()) + REMOVAL,
    )


async def test_rotation_days_zero_rotates_only_by_hand(make_manager, clock):
    keys = make_manager(KeyPolicy(rotation_seconds=0))
    await keys.refresh()
    clock.advance(3650 * DAY)
    await keys.refresh()
    assert len(keys.states()) == 1


async def test_two_processes_rotating_at_once_add_exactly_one_key(engine, make_manager, clock):
    await make_manager().refresh()
    barrier = asyncio.Barrier(2)
    first = make_manager(store=LockstepKeyStore(engine, barrier))
    second = make_manager(store=LockstepKeyStore(engine, barrier))
    clock.advance(90 * DAY)
    added = await asyncio.gather(first.rotation.add_due_key(), second.rotation.add_due_key())
    assert sorted(key is None for key in added) == [False, True]  # both tried, one won
    await asyncio.gather(first.refresh(), second.refresh())
    assert len(await SqlKeyStore(engine).list_keys()) == 2
    assert first.jwks_json == second.jwks_json
    clock.advance(ANNOUNCE)
    assert first.active.kid == second.active.kid


async def test_two_managers_refreshing_together_add_one_key(engine, make_manager, clock):
    first, second = make_manager(), make_manager()
    await first.refresh()
    clock.advance(90 * DAY)
    await asyncio.gather(first.refresh(), second.refresh())
    assert len(await SqlKeyStore(engine).list_keys()) == 2
    assert first.jwks_json == second.jwks_json


async def test_two_processes_starting_at_once_create_one_first_key(engine, make_manager):
    barrier = asyncio.Barrier(2)
    first = make_manager(store=LockstepKeyStore(engine, barrier))
    second = make_manager(store=LockstepKeyStore(engine, barrier))
    await asyncio.gather(first.ensure_signing_key(), second.ensure_signing_key())
    assert len(await SqlKeyStore(engine).list_keys()) == 1
    assert first.active.kid == second.active.kid


async def test_every_process_follows_a_rotation_at_its_next_load(make_manager):
    here, there = make_manager(), make_manager()
    await here.ensure_signing_key()
    await there.ensure_signing_key()
    new = await here.rotation.rotate(immediately=True)
    assert there.active.kid != new.kid
    await there.refresh()
    assert there.active.kid == new.kid


async def test_a_key_from_before_rotation_keeps_signing_until_it_is_rotated(
    engine, encryptor, make_manager, clock
):
    made = generate_stored_key(encryptor, "ES256", now=START, activates_at=START, succeeds="")
    legacy = dataclasses.replace(made, activates_at=None, succeeds=None)
    await SqlKeyStore(engine).add_key(legacy)
    keys = make_manager()
    await keys.refresh()
    assert keys.active.kid == legacy.kid
    clock.advance(90 * DAY)
    await keys.refresh()
    assert [state.status for state in keys.states()] == ["active", "next"]
    assert published_kids(keys)[0] == legacy.kid
