"""The JWKS endpoint and issued tokens follow a rotation made by another process (the CLI)."""

from __future__ import annotations

import asyncio
import time

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import basic_auth, decode_jwt_unverified
from tokensmith.keys import KeyPolicy, KeyRotation
from tokensmith.keys.encryption import load_key_encryptor
from tokensmith.settings import Settings
from tokensmith.stores.sql.engine import create_engine
from tokensmith.stores.sql.keys import SqlKeyStore

RELOAD_SECONDS = 0.05


def rotate_now(settings: Settings) -> str:
    async def rotate() -> str:
        engine = create_engine(settings.database)
        try:
            rotation = KeyRotation(
                SqlKeyStore(engine), load_key_encryptor(settings), KeyPolicy.from_settings(settings)
            )
            return (await rotation.rotate(immediately=True)).kid
        finally:
            await engine.dispose()

    return asyncio.run(rotate())


def get_token(client) -> str:
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_server_publishes_and_signs_with_a_key_rotated_by_another_process(
    make_client, make_settings
):
    client = make_client(key_reload_seconds=RELOAD_SECONDS)
    old_token = get_token(client)
    new_kid = rotate_now(make_settings(key_reload_seconds=RELOAD_SECONDS))
    deadline = time.monotonic() + 5
    while len(client.get("/.well-known/jwks.json").json()["keys"]) < 2:
        assert time.monotonic() < deadline, "the server never reloaded its keys"
        time.sleep(RELOAD_SECONDS)
    jwks = client.get("/.well-known/jwks.json").json()
    new_token = get_token(client)
    assert decode_jwt_unverified(new_token)[0]["kid"] == new_kid
    published = KeySet.import_key_set(jwks)
    for token in (old_token, new_token):
        assert jwt.decode(token, published, algorithms=["ES256"]).claims["client_id"] == CLIENT_ID
