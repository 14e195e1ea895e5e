"""User passwords, hashed with argon2id.

The defaults are argon2-cffi's recommended parameters (RFC 9106's low-memory
profile). ``password_hashing`` in the settings can change them, for small
containers or for test suites; a hash records its own parameters, so
passwords hashed under other settings still verify.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tokensmith.settings import Settings

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def configure_password_hashing(settings: Settings) -> None:
    """Use the settings' argon2 parameters for new hashes in this process."""
    global _hasher, _dummy_hash
    config = settings.password_hashing
    _hasher = PasswordHasher(
        time_cost=config.time_cost,
        memory_cost=config.memory_kib,
        parallelism=config.parallelism,
    )
    _dummy_hash = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _dummy() -> str:
    # Verified against when the username is unknown, so that "no such user" and
    # "wrong password" take the same time.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("tokensmith-dummy-password")
    return _dummy_hash


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; argon2 runs in a thread, off the event loop."""
    try:
        matched = await asyncio.to_thread(_hasher.verify, password_hash or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None
