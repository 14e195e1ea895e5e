"""Handles and the keys they are stored under (models/grant.py)."""

from __future__ import annotations

import base64
import hashlib
import itertools

import pytest

from tokensmith.models import grant
from tokensmith.models.grant import ISSUE_TIME_DIGITS, ISSUED_HANDLE, handle_key, new_handle


def sha256_b64(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_a_new_handle_is_its_issue_time_then_256_random_bits(monkeypatch):
    monkeypatch.setattr(grant.time, "time_ns", lambda: 1_764_950_400_123_456_789)
    handle = new_handle()
    assert handle[:ISSUE_TIME_DIGITS] == f"{1_764_950_400_123:012x}"
    random_part = handle[ISSUE_TIME_DIGITS:]
    assert len(base64.urlsafe_b64decode(random_part + "=")) == 32
    assert new_handle()[ISSUE_TIME_DIGITS:] != random_part


def test_the_key_keeps_the_issue_time_and_hashes_the_rest():
    handle = new_handle()
    assert ISSUED_HANDLE.fullmatch(handle)
    key = handle_key(handle)
    assert key == handle[:ISSUE_TIME_DIGITS] + sha256_b64(handle)
    assert len(key) <= 64  # grants.key is String(64)


def test_keys_sort_in_the_order_handles_were_issued(monkeypatch):
    clock = itertools.count(1_764_950_400_000)
    monkeypatch.setattr(grant.time, "time_ns", lambda: next(clock) * 1_000_000)
    keys = [handle_key(new_handle()) for _ in range(50)]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "handle",
    [
        "Zk3v0m0mZ7f2mYc6H1lV0Q7y8a9bB0cC1dD2eE3fF4g",  # token_urlsafe(32), issued before
        "urn:ietf:params:oauth:request_uri:abc",
        "x",
        # 55 characters, but not a new_handle(): namespaced keys built from other values,
        "device-poll:" + "A" * 43,
        "consent:" + "0123456789abcdef" * 2 + ":client-of-14ch",
        # and what a client may send, whose characters must never reach the key.
        "\x00" * 55,
        "0123456789AB" + "A" * 43,  # the time's digits are lower-case hex
        "0123456789ab" + "A" * 42 + "=",
    ],
)
def test_any_other_handle_is_keyed_by_its_hash_alone(handle):
    """Codes and tokens issued before new_handle() keep the key they were stored under."""
    if handle.startswith(("device-poll:", "consent:")) or "\x00" in handle:
        assert len(handle) == len(new_handle())
    assert handle_key(handle) == sha256_b64(handle)
