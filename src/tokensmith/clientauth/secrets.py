"""Client secrets at rest: hashed, compared in constant time.

Generated secrets carry 256 bits of entropy, so a single SHA-256 is enough
to keep them safe at rest and costs microseconds per request. Operators who
choose their own secrets can store an argon2 hash instead; a successful argon2
check is remembered (keyed by the digest of the presented secret) so that the
slow hash runs once per process, not once per token request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tokensmith.errors import InvalidClient
from tokensmith.models.client import Client

_SHA256_PREFIX = "sha256$"
_ARGON2_PREFIX = "$argon2"
_VERIFIED_CACHE_SIZE = 1024

_password_hasher = PasswordHasher()
_verified_argon2: OrderedDict[tuple[str, bytes], None] = OrderedDict()


def generate_client_secret() -> str:
    """A new high-entropy secret (256 bits, base64url)."""
    return secrets.token_urlsafe(32)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def hash_client_secret(secret: str) -> str:
    """The stored form of a secret: ``sha256$<base64url digest>``."""
    return _stored_form(_digest(secret))


def _stored_form(digest: bytes) -> str:
    return _SHA256_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def is_supported_hash(value: str) -> bool:
    """Whether ``value`` looks like a hash this module can verify."""
    return value.startswith((_SHA256_PREFIX, _ARGON2_PREFIX))


async def verify_client_secret(secret: str, hashes: tuple[str, ...]) -> bool:
    """Whether ``secret`` matches any of ``hashes``; never short-circuits on content."""
    presented = _digest(secret)
    expected = _stored_form(presented).encode()  # one SHA-256 per request, not two
    matched = False
    for stored in hashes:
        if stored.startswith(_SHA256_PREFIX):
            matched |= hmac.compare_digest(expected, stored.encode())
        elif stored.startswith(_ARGON2_PREFIX):
            matched |= await _verify_argon2(stored, secret, presented)
    return matched


async def check_presented_secret(secret: str | None, client: Client) -> None:
    """Raise InvalidClient unless ``secret`` is one of the client's (the secret methods' verify)."""
    if secret is None or not await verify_client_secret(secret, client.secret_hashes):
        raise InvalidClient("client authentication failed")


async def _verify_argon2(stored: str, secret: str, presented: bytes) -> bool:
    key = (stored, presented)
    if key in _verified_argon2:
        _verified_argon2.move_to_end(key)
        return True
    try:
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        await asyncio.to_thread(_password_hasher.verify, stored, secret)
    except (VerificationError, InvalidHashError):
        return False
    _verified_argon2[key] = None
    if len(_verified_argon2) > _VERIFIED_CACHE_SIZE:
        _verified_argon2.popitem(last=False)
    return True


def hash_with_argon2(secret: str) -> str:
    """An argon2id hash, for secrets a person chose."""
    return _password_hasher.hash(secret)
