"""KeyManager: which key signs, and which keys are published, right now.

The stored rows are read at start-up and on every ``refresh`` and held in
memory, so signing never touches the database. Between reads the clock alone
moves keys through their lifecycle (a next key starts signing at its
``activates_at``, a retired one leaves the JWKS at its ``remove_after``), so
processes holding the same rows agree without talking to each other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import orjson
from joserfc.jwk import KeySet

from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.keys.lifecycle import KeyState, key_states, next_change
from tokensmith.keys.material import SigningKey, open_stored_key
from tokensmith.keys.policy import KeyPolicy
from tokensmith.keys.rotation import Clock, KeyRotation
from tokensmith.stores.protocols import KeyStore, StoredKey

__all__ = ["KeyManager", "SigningKey"]


@dataclass(slots=True, frozen=True)
class _View:
    """What the keys look like from ``since`` until ``until`` (the next status change)."""

    active: SigningKey | None
    jwks_json: bytes
    verification_keys: KeySet
    algorithms: list[str]
    since: float
    until: float


_EMPTY = _View(None, b'{"keys":[]}', KeySet([]), [], math.inf, -math.inf)


class KeyManager:
    def __init__(
        self,
        store: KeyStore,
        encryptor: KeyEncryptor,
        policy: KeyPolicy | None = None,
        clock: Clock = time.time,
    ):
        self._encryptor = encryptor
        self._clock = clock
        self.rotation = KeyRotation(store, encryptor, policy or KeyPolicy(), clock)
        self._store = store
        self._rows: list[StoredKey] = []
        self._removal_delay = 0
        self._opened: dict[str, SigningKey] = {}
        self._view = _EMPTY

    async def ensure_signing_key(self) -> None:
        """Add a key that signs at once if none signs now (first start); then load."""
        await self.rotation.add_due_key(rotate=False)
        await self.load()

    async def refresh(self) -> None:
        """Rotate if due, record retirements, reload: what each process does periodically."""
        await self.rotation.add_due_key()
        await self.rotation.record_retirements()
        await self.load()

    async def load(self) -> None:
        rows = await self._store.list_keys()
        delay = await self.rotation.removal_delay()
        published = {s.kid for s in key_states(rows, int(self._clock()), delay) if s.published}
        self._opened = {
            row.kid: self._opened.get(row.kid) or open_stored_key(self._encryptor, row)
            for row in rows
            if row.kid in published
        }
        self._rows, self._removal_delay, self._view = rows, delay, _EMPTY

    def states(self) -> list[KeyState]:
        """The loaded keys' states at this moment."""
        return key_states(self._rows, int(self._clock()), self._removal_delay)

    @property
    def active(self) -> SigningKey:
        """The key that signs now."""
        active = self._current().active
        if active is None:
            raise RuntimeError("no signing key loaded; call ensure_signing_key() at start-up")
        return active

    @property
    def verification_keys(self) -> KeySet:
        """Every published key, for checking our own tokens."""
        return self._current().verification_keys

    @property
    def algorithms(self) -> list[str]:
        return self._current().algorithms

    @property
    def jwks_json(self) -> bytes:
        """The JWKS document (RFC 7517 section 5), serialised once per status change."""
        return self._current().jwks_json

    def _current(self) -> _View:
        now = self._clock()
        if not self._view.since <= now < self._view.until:
            self._view = self._build_view(now)
        return self._view

    def _build_view(self, now: float) -> _View:
        states = key_states(self._rows, int(now), self._removal_delay)
        # Next keys verify too: a process whose clock runs ahead may already sign with one.
        published = [
            (state, self._opened[state.kid])
            for state in states
            if state.published and state.kid in self._opened
        ]
        keys = [key for _, key in published]
        return _View(
            active=next((key for state, key in published if state.status == "active"), None),
            jwks_json=orjson.dumps({"keys": [key.public_jwk() for key in keys]}),
            verification_keys=KeySet([key.key for key in keys]),
            algorithms=sorted({key.algorithm for key in keys}),
            since=int(now),
            until=next_change(states, int(now)),
        )
