"""Key lifecycle fixtures: a clock the test moves, and managers over a real database."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from joserfc import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.keys import KeyManager, KeyPolicy
from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.stores.sql.keys import SqlKeyStore

KEK = b"7SDLWIGnUBMVh2iZ8UxdVbqMM-dqJOVHsQcJ6aSPYBs="
DAY = 24 * 3600
START = 1_700_000_000
POLICY = KeyPolicy(rotation_seconds=90 * DAY, announce_seconds=3600, removal_delay=7200)


class FakeClock:
    """Unix time that moves only when the test says so."""

    def __init__(self, now: int = START):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def encryptor() -> KeyEncryptor:
    return KeyEncryptor(lambda: KEK)


@pytest.fixture
def make_manager(
    engine: AsyncEngine, encryptor: KeyEncryptor, clock: FakeClock
) -> Callable[..., KeyManager]:
    """A KeyManager as one server process holds it, over the shared database and clock."""

    def make(policy: KeyPolicy = POLICY, store: SqlKeyStore | None = None) -> KeyManager:
        return KeyManager(store or SqlKeyStore(engine), encryptor, policy, clock)

    return make


def sign(keys: KeyManager) -> str:
    """A JWT signed the way tokens are: with the active key, its kid in the header."""
    key = keys.active
    return jwt.encode({"alg": key.algorithm, "kid": key.kid}, {"sub": "s"}, key.key)


def verifies(keys: KeyManager, token: str) -> bool:
    try:
        jwt.decode(token, keys.verification_keys, algorithms=keys.algorithms)
    except Exception:
        return False
    return True


def published_kids(keys: KeyManager) -> list[str]:
    return [jwk["kid"] for jwk in orjson.loads(keys.jwks_json)["keys"]]
