"""The lifecycle rules as pure functions of the rows and the clock (no database)."""

from __future__ import annotations

import math
from typing import Any

from tokensmith.keys.lifecycle import (
    active_state,
    chain_tail,
    due_activation,
    key_states,
    next_change,
)
from tokensmith.stores.protocols import StoredKey

T = 1_000_000
HOUR = 3600


def key(kid: str, created: int, **lifecycle: Any) -> StoredKey:
    return StoredKey(kid, "ES256", b"ciphertext", created_at=created, **lifecycle)


def statuses(keys: list[StoredKey], now: int, delay: int = HOUR) -> dict[str, str]:
    return {state.kid: state.status for state in key_states(keys, now, delay)}


def test_a_row_from_before_rotation_signs_from_its_creation():
    (state,) = key_states([key("old", T)], T, HOUR)
    assert (state.status, state.activates_at, state.retired_at, state.remove_after) == (
        "active",
        T,
        None,
        None,
    )


def test_a_next_key_is_published_before_it_signs_then_supersedes_the_old_one():
    keys = [key("old", T), key("new", T + 10, activates_at=T + HOUR)]
    assert statuses(keys, T + HOUR - 1) == {"old": "active", "new": "next"}
    assert statuses(keys, T + HOUR) == {"old": "retired", "new": "active"}
    old = key_states(keys, T + HOUR, 7200)[0]
    assert (old.retired_at, old.remove_after) == (T + HOUR, T + HOUR + 7200)
    assert statuses(keys, T + HOUR + HOUR - 1) == {"old": "retired", "new": "active"}
    assert statuses(keys, T + HOUR + HOUR) == {"old": "expired", "new": "active"}


def test_the_recorded_removal_time_wins_over_the_current_delay():
    keys = [key("old", T, retired_at=T + 5, remove_after=T + 99), key("new", T + 5)]
    old, _ = key_states(keys, T + 10, 1)
    assert old.remove_after == T + 99


def test_a_key_retired_before_it_signs_never_takes_over():
    keys = [key("old", T), key("unused", T + 1, activates_at=T + HOUR, retired_at=T + 2)]
    assert statuses(keys, T + HOUR) == {"old": "active", "unused": "retired"}
    assert statuses(keys, T + 2 * HOUR) == {"old": "active", "unused": "expired"}


def test_retiring_the_only_key_leaves_nothing_active():
    keys = [key("only", T, retired_at=T + 5)]
    assert active_state(key_states(keys, T + 5, HOUR)) is None
    assert statuses(keys, T + 4) == {"only": "active"}


def test_at_most_one_key_is_active_whatever_the_activation_order():
    keys = [
        key("a", T),
        key("b", T + 1, activates_at=T + 3 * HOUR),
        key("c", T + 2, activates_at=T + 2),  # rotate --now while b waits
    ]
    assert statuses(keys, T + 2) == {"a": "retired", "c": "active", "b": "next"}
    later = statuses(keys, T + 3 * HOUR, delay=4 * HOUR)
    assert later == {"a": "retired", "c": "retired", "b": "active"}


def test_keys_activating_in_the_same_second_sign_in_the_order_they_were_added():
    # rotate --now in the second the first key was made; kids sort the other way.
    keys = [key("z-first", T, succeeds=""), key("a-second", T, succeeds="z-first")]
    assert statuses(keys, T) == {"z-first": "retired", "a-second": "active"}
    keys.append(key("0-third", T, succeeds="a-second"))
    assert statuses(keys, T) == {"z-first": "retired", "a-second": "retired", "0-third": "active"}


def test_rotation_is_due_when_the_active_key_reaches_the_rotation_age():
    states = key_states([key("k", T)], T + 100, HOUR)
    assert due_activation(states, T + 99, 100, HOUR) is None
    states = key_states([key("k", T)], T + 100, HOUR)
    assert due_activation(states, T + 100, 100, HOUR) == T + 100 + HOUR


def test_rotation_is_not_due_while_a_next_key_waits_or_when_switched_off():
    waiting = [key("k", T), key("n", T + 50, activates_at=T + 500)]
    assert due_activation(key_states(waiting, T + 200, HOUR), T + 200, 100, HOUR) is None
    states = key_states([key("k", T)], T + 10**8, HOUR)
    assert due_activation(states, T + 10**8, 0, HOUR) is None


def test_a_key_is_due_at_once_when_none_signs():
    assert due_activation([], T, 0, HOUR) == T
    retired = key_states([key("k", T, retired_at=T + 1)], T + 2, HOUR)
    assert due_activation(retired, T + 2, 0, HOUR) == T + 2


def test_a_new_key_succeeds_the_newest_key_no_other_succeeds():
    assert chain_tail([]) == ""
    legacy = [key("a", T), key("b", T + 1)]
    assert chain_tail(legacy) == "b"
    assert chain_tail([*legacy, key("c", T + 2, succeeds="b")]) == "c"
    # A key created with an earlier clock still takes its predecessor's place.
    assert chain_tail([*legacy, key("c", T - 50, succeeds="b")]) == "c"


def test_next_change_is_the_first_transition_ahead():
    keys = [key("old", T), key("new", T + 10, activates_at=T + HOUR)]
    states = key_states(keys, T + 20, 7200)
    assert next_change(states, T + 20) == T + HOUR
    states = key_states(keys, T + HOUR, 7200)
    assert next_change(states, T + HOUR) == T + HOUR + 7200
    assert next_change(key_states([key("k", T)], T, 1), T) == math.inf
