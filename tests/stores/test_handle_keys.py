"""Handles and the keys they are stored under (models/grant.py)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tokensmith.models import grant
from tokensmith.models.grant import ISSUE_TIME_DIGITS, handle_key, new_handle


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
    key = handle_key(handle)
    assert key == handle[:ISSUE_TIME_DIGITS] + sha256_b64(handle)
    assert handle[ISSUE_TIME_DIGITS:] not in key
    assert len(key) <= 64  # grants.key is String(64)


def test_keys_sort_in_the_order_handles_were_issued(monkeypatch):
    clock = iter(range(1_764_950_400_000, 1_764_950_400_000 + 50))
    monkeypatch.setattr(grant.time, "time_ns", lambda: next(clock) * 1_000_000)
    keys = [handle_key(new_handle()) for _ in range(50)]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "handle",
    [
        "Zk3v0m0mZ7f2mYc6H1lV0Q7y8a9bB0cC1dD2eE3fF4g",  # token_urlsafe(32), issued before
        "urn:ietf:params:oauth:request_uri:abc",
        "x",
    ],
)
def test_any_other_handle_is_keyed_by_its_hash_alone(handle):
    """Codes and tokens issued before new_handle() keep the key they were stored under."""
    assert handle_key(handle) == sha256_b64(handle)
