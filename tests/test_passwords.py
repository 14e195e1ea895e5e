"""Password hashing: argon2id with the recommended defaults, or the configured parameters."""

from __future__ import annotations

from tokensmith import Settings
from tokensmith.users.passwords import configure_password_hashing, hash_password, verify_password


async def test_defaults_are_argon2id_with_the_recommended_parameters():
    configure_password_hashing(Settings())
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await verify_password(stored, "correct horse battery staple")
    assert not await verify_password(stored, "wrong")


async def test_configured_parameters_apply_and_old_hashes_still_verify():
    configure_password_hashing(Settings())
    old = hash_password("pw-one-two-three")
    configure_password_hashing(
        Settings(password_hashing={"time_cost": 1, "memory_kib": 8192, "parallelism": 1})
    )
    new = hash_password("pw-one-two-three")
    assert new.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert await verify_password(old, "pw-one-two-three")
    assert await verify_password(new, "pw-one-two-three")


async def test_unknown_user_is_checked_against_a_dummy_hash():
    assert not await verify_password(None, "anything")
