"""KeyRotation: every change to the stored key lifecycle, safe with several processes.

Decisions come from ``lifecycle`` over freshly read rows; the database settles
races. A new key names the key it ``succeeds`` (a unique column), so when two
processes decide at once that a key is due, only one insert succeeds and the
other process simply reads the winner's key on its next load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.keys.lifecycle import (
    KeyState,
    active_state,
    chain_tail,
    due_activation,
    key_states,
)
from tokensmith.keys.material import generate_stored_key
from tokensmith.keys.policy import KeyPolicy
from tokensmith.stores.protocols import KeyStore, StoredKey

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
_ADD_ATTEMPTS = 3


class KeyLifecycleError(Exception):
    """A requested change names no key, or would leave no key to sign with."""


class KeyRotation:
    def __init__(
        self,
        store: KeyStore,
        encryptor: KeyEncryptor,
        policy: KeyPolicy,
        clock: Clock = time.time,
    ):
        self._store = store
        self._encryptor = encryptor
        self._policy = policy
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())

    async def removal_delay(self) -> int:
        """How long a key stays published after it stops signing (stored clients included)."""
        longest = await self._store.longest_client_token_lifetime() or 0
        return max(self._policy.removal_delay, longest)

    async def states(self) -> list[KeyState]:
        return key_states(await self._store.list_keys(), self.now(), await self.removal_delay())

    async def add_due_key(self, *, rotate: bool = True) -> StoredKey | None:
        """Add the key the lifecycle says is due, if any: one that signs at once when none
        does, or (``rotate``) the next one when the active key has reached its age.
        """
        keys = await self._store.list_keys()
        now = self.now()
        rotation_seconds = self._policy.rotation_seconds if rotate else 0
        states = key_states(keys, now, await self.removal_delay())
        due = due_activation(states, now, rotation_seconds, self._policy.announce_seconds)
        if due is None:
            return None
        key = await self._add(keys, now, due)
        if key is not None:
            logger.info("added signing key %s; it signs from %d", key.kid, due)
        return key

    async def rotate(self, *, immediately: bool = False) -> StoredKey:
        """Add a key that signs after the announce window (``immediately``: now)."""
        for _ in range(_ADD_ATTEMPTS):
            keys = await self._store.list_keys()
            now = self.now()
            states = key_states(keys, now, await self.removal_delay())
            signs_now = immediately or active_state(states) is None
            activates_at = now if signs_now else now + self._policy.announce_seconds
            key = await self._add(keys, now, activates_at)
            if key is not None:
                return key
        raise KeyLifecycleError("other processes kept adding keys at the same time; try again")

    async def retire(self, kid: str) -> KeyState:
        """Stop ``kid`` signing now; it stays published until its tokens have expired.

        Retiring the active key hands signing to the next key at once; with no
        next key that would leave nothing to sign with, so it is refused.
        """
        now, delay = self.now(), await self.removal_delay()
        states = key_states(await self._store.list_keys(), now, delay)
        state = next((state for state in states if state.kid == kid), None)
        if state is None:
            raise KeyLifecycleError(f"no signing key has kid {kid!r}")
        successor = None
        if state.status == "active":
            successor = next((other for other in states if other.status == "next"), None)
            if successor is None:
                raise KeyLifecycleError(
                    f"key {kid} is the only one that can sign; add one with "
                    "`tokensmith keys rotate` (or `--now`), then retire this one"
                )
        if state.status in ("active", "next"):
            await self._store.retire_key(
                kid, now, now + delay, successor.kid if successor else None
            )
        return next(found for found in await self.states() if found.kid == kid)

    async def record_retirements(self) -> int:
        """Store the end of keys that stopped signing because a later key activated.

        The lifecycle already derives it; storing it fixes ``remove_after`` at
        the lifetimes in force when the key stopped, and shows it in the table.
        """
        keys = await self._store.list_keys()
        states = key_states(keys, self.now(), await self.removal_delay())
        recorded = {key.kid for key in keys if key.retired_at is not None}
        count = 0
        for state in states:
            stopped = state.status in ("retired", "expired") and state.kid not in recorded
            if stopped and state.retired_at is not None and state.remove_after is not None:
                count += await self._store.retire_key(
                    state.kid, state.retired_at, state.remove_after
                )
        return count

    async def _add(self, keys: list[StoredKey], now: int, activates_at: int) -> StoredKey | None:
        """Add a key succeeding the chain's tail; None if another process just did."""
        if keys:
            # A key encrypted with another KEK than the stored ones (a CLI run without
            # TOKENSMITH_KEY_ENCRYPTION_KEY) would stop every server that loads it.
            self._encryptor.decrypt(keys[-1].encrypted_private_key)
        key = generate_stored_key(
            self._encryptor,
            self._policy.algorithm,
            now=now,
            activates_at=activates_at,
            succeeds=chain_tail(keys),
        )
        return key if await self._store.add_key(key) else None
