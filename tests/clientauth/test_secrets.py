"""Client secrets at rest: only hashes are kept, and comparison is constant-time."""

from __future__ import annotations

import hmac

import pytest

from tokensmith.clientauth import secrets as client_secrets
from tokensmith.clientauth.secrets import (
    generate_client_secret,
    hash_client_secret,
    hash_with_argon2,
    verify_client_secret,
)


def test_generated_secrets_are_256_bits_and_distinct():
    made = {generate_client_secret() for _ in range(100)}
    assert len(made) == 100
    assert all(len(secret) == 43 for secret in made)  # 32 bytes, base64url


def test_the_stored_form_never_contains_the_secret():
    secret = generate_client_secret()
    stored = hash_client_secret(secret)
    assert stored.startswith("sha256$")
    assert secret not in stored


async def test_sha256_and_argon2_hashes_verify_the_right_secret_only():
    secret = generate_client_secret()
    hashes = (hash_client_secret("an-old-secret"), hash_client_secret(secret))
    assert await verify_client_secret(secret, hashes)
    assert not await verify_client_secret(secret + "x", hashes)
    chosen = "a secret a person chose"
    assert await verify_client_secret(chosen, (hash_with_argon2(chosen),))
    assert not await verify_client_secret("another", (hash_with_argon2(chosen),))


async def test_every_stored_hash_is_compared_in_constant_time(monkeypatch):
    """RFC 9700 / RFC 6819 5.1.4.2: no early exit that would time-leak the stored hash."""
    compared = []
    original = hmac.compare_digest

    def recording_compare_digest(a, b):
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(client_secrets.hmac, "compare_digest", recording_compare_digest)
    secret = generate_client_secret()
    hashes = (hash_client_secret(secret), hash_client_secret("second"), hash_client_secret("3"))
    assert await verify_client_secret(secret, hashes)
    # all three compared, even though the first already matched
    assert len(compared) == 3


@pytest.mark.parametrize("stored", ["plain-text-secret", "md5$abc", ""])
async def test_unknown_stored_forms_never_match(stored):
    assert not await verify_client_secret(stored, (stored,))
