"""The key lifecycle as pure functions of the stored rows and the clock.

Every process runs the same functions over the same rows, so all agree on
which key signs without talking to each other. In signing order (activates_at,
then the order keys were added in) a key is:

- ``next``: published, not signing yet (``activates_at`` is still ahead);
- ``active``: the one key that has activated and not stopped signing;
- ``retired``: stopped signing, when retired or when a later key activated,
  but published until ``remove_after``, so the tokens it signed still verify;
- ``expired``: past ``remove_after``; no longer published.

Rows from before rotation (``activates_at`` NULL) signed from ``created_at``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tokensmith.stores.protocols import StoredKey

KeyStatus = Literal["next", "active", "retired", "expired"]


@dataclass(slots=True, frozen=True)
class KeyState:
    """One key at one moment: its status and the times that decide it."""

    kid: str
    algorithm: str
    status: KeyStatus
    created_at: int
    activates_at: int
    retired_at: int | None
    """When it stops signing (retired, or superseded); None while nothing ends it."""
    remove_after: int | None

    @property
    def published(self) -> bool:
        return self.status != "expired"


def key_states(keys: Sequence[StoredKey], now: int, removal_delay: int) -> list[KeyState]:
    """Every key's state at ``now``, in signing order.

    ``removal_delay`` dates the removal of a key whose end is not recorded yet
    (superseded by a later key, not explicitly retired).
    """
    position = _chain_positions(keys)
    ordered = sorted(
        keys, key=lambda key: (activates_at(key), position[key.kid], key.created_at, key.kid)
    )
    return [
        _state(key, _ended_at(key, ordered[index + 1 :]), now, removal_delay)
        for index, key in enumerate(ordered)
    ]


def activates_at(key: StoredKey) -> int:
    return key.created_at if key.activates_at is None else key.activates_at


def active_state(states: Sequence[KeyState]) -> KeyState | None:
    return next((state for state in states if state.status == "active"), None)


def due_activation(
    states: Sequence[KeyState], now: int, rotation_seconds: int, announce_seconds: int
) -> int | None:
    """When a key added automatically now should start signing; None if none is due.

    A key is due at once when none signs, and after the announce window when
    the active key is ``rotation_seconds`` old and no next key is waiting
    (``rotation_seconds`` 0: never).
    """
    active = active_state(states)
    if active is None:
        return now
    if rotation_seconds <= 0 or any(state.status == "next" for state in states):
        return None
    if now - active.created_at < rotation_seconds:
        return None
    return now + announce_seconds


def chain_tail(keys: Sequence[StoredKey]) -> str:
    """The key a new key ``succeeds``: the end of the chain of keys that succeed one another.

    Adding a key consumes the tail it names and becomes the new one, so two
    processes that read the same rows name the same tail, and the unique column
    lets one win. Rows from before rotation (``succeeds`` NULL) are tails only
    until the first key added since (and the newest of them is taken).
    """
    taken = {key.succeeds for key in keys}
    free = [key for key in keys if key.kid not in taken]
    if not free:
        return ""
    return max(free, key=lambda key: (key.succeeds is not None, key.created_at, key.kid)).kid


def next_change(states: Sequence[KeyState], now: int) -> float:
    """The first moment after ``now`` at which some key changes status."""
    moments = [
        moment
        for state in states
        for moment in (state.activates_at, state.retired_at, state.remove_after)
        if moment is not None and moment > now
    ]
    return min(moments, default=math.inf)


def _chain_positions(keys: Sequence[StoredKey]) -> dict[str, int]:
    """How many keys precede each one along ``succeeds``: the order they were added in,
    which breaks ties between keys activating in the same second.
    """
    predecessor = {key.kid: key.succeeds for key in keys}
    positions: dict[str, int] = {}
    for kid in predecessor:
        walk: list[str] = []
        current = kid
        while current in predecessor and current not in positions and current not in walk:
            walk.append(current)
            current = predecessor[current] or ""
        base = positions.get(current, -1)
        for offset, added in enumerate(reversed(walk), start=1):
            positions[added] = base + offset
    return positions


def _ended_at(key: StoredKey, later: Sequence[StoredKey]) -> int | None:
    """When ``key`` stops signing: retired, or the first later key that really signs begins."""
    ends = [activates_at(other) for other in later if not _retired_unused(other)]
    if key.retired_at is not None:
        ends.append(key.retired_at)
    return min(ends, default=None)


def _retired_unused(key: StoredKey) -> bool:
    return key.retired_at is not None and key.retired_at <= activates_at(key)


def _state(key: StoredKey, ended: int | None, now: int, removal_delay: int) -> KeyState:
    remove_after = key.remove_after
    if remove_after is None and ended is not None:
        remove_after = ended + removal_delay
    status: KeyStatus
    if ended is not None and ended <= now:
        assert remove_after is not None
        status = "expired" if remove_after <= now else "retired"
    elif activates_at(key) > now:
        status = "next"
    else:
        status = "active"
    return KeyState(
        kid=key.kid,
        algorithm=key.algorithm,
        status=status,
        created_at=key.created_at,
        activates_at=activates_at(key),
        retired_at=ended,
        remove_after=remove_after,
    )
