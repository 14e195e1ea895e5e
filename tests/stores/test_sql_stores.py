"""SQL stores against real SQLite and PostgreSQL (the ``engine`` fixture runs both)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from tokensmith.clientauth.secrets import hash_client_secret
from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.keys.manager import KeyManager
from tokensmith.models.client import Client
from tokensmith.stores.protocols import StoredKey
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.keys import SqlKeyStore

KEK = b"7SDLWIGnUBMVh2iZ8UxdVbqMM-dqJOVHsQcJ6aSPYBs="


def sample_client(client_id: str = "stored-client") -> Client:
    return Client(
        client_id=client_id,
        client_name="Stored",
        token_endpoint_auth_method="client_secret_post",
        grant_types=frozenset({"client_credentials"}),
        scopes=frozenset({"api:read", "api:write"}),
        secret_hashes=(hash_client_secret("s"),),
        redirect_uris=("https://app.example.test/cb",),
        access_token_format="jwt",
        access_token_lifetime=300,
    )


async def test_client_round_trips(engine):
    store = SqlClientStore(engine)
    await store.add_client(sample_client())
    assert await store.find_client_by_id("stored-client") == sample_client()
    assert await store.find_client_by_id("absent") is None
    assert await store.count() == 1


async def test_duplicate_client_id_is_refused_and_leaves_the_first(engine):
    store = SqlClientStore(engine)
    await store.add_client(sample_client())
    with pytest.raises(IntegrityError):
        await store.add_client(sample_client())
    assert await store.count() == 1


async def test_keys_are_stored_encrypted_and_listed_in_creation_order(engine):
    store = SqlKeyStore(engine)
    await store.add_key(StoredKey("b", "ES256", b"ciphertext-2", created_at=200))
    await store.add_key(StoredKey("a", "ES256", b"ciphertext-1", created_at=100))
    assert [key.kid for key in await store.list_keys()] == ["a", "b"]


async def test_key_manager_generates_once_and_reloads_the_same_key(engine):
    encryptor = KeyEncryptor(lambda: KEK)
    first = KeyManager(SqlKeyStore(engine), encryptor)
    await first.ensure_signing_key()
    second = KeyManager(SqlKeyStore(engine), encryptor)
    await second.ensure_signing_key()
    assert first.active.kid == second.active.kid
    assert first.jwks_json == second.jwks_json
    (stored,) = await SqlKeyStore(engine).list_keys()
    assert b"PRIVATE KEY" not in stored.encrypted_private_key
    assert b"PRIVATE KEY" in encryptor.decrypt(stored.encrypted_private_key)


async def test_key_manager_with_the_wrong_kek_fails_clearly(engine):
    await KeyManager(SqlKeyStore(engine), KeyEncryptor(lambda: KEK)).ensure_signing_key()
    other = KeyEncryptor(lambda: b"UbDDWMdqMw1hBHCtG3DPxSvbOBfdDG3VbNGPYLqkLUs=")
    from tokensmith import ConfigError

    with pytest.raises(ConfigError, match="cannot decrypt"):
        await KeyManager(SqlKeyStore(engine), other).load()


async def test_a_second_key_succeeding_the_same_key_is_not_added(engine):
    store = SqlKeyStore(engine)
    assert await store.add_key(StoredKey("a", "ES256", b"c1", created_at=100, succeeds=""))
    assert await store.add_key(StoredKey("b", "ES256", b"c2", created_at=200, succeeds="a"))
    assert not await store.add_key(StoredKey("c", "ES256", b"c3", created_at=200, succeeds="a"))
    assert [key.kid for key in await store.list_keys()] == ["a", "b"]


async def test_retiring_keeps_the_earliest_end_and_starts_the_successor_with_it(engine):
    store = SqlKeyStore(engine)
    await store.add_key(StoredKey("a", "ES256", b"c1", created_at=100, succeeds=""))
    await store.add_key(StoredKey("b", "ES256", b"c2", 110, activates_at=500, succeeds="a"))
    assert await store.retire_key("a", 200, 300, successor="b")
    assert not await store.retire_key("a", 250, 350)
    a, b = await store.list_keys()
    assert (a.retired_at, a.remove_after, b.activates_at) == (200, 300, 200)
