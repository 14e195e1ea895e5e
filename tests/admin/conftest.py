"""An in-process server with an operator client that may get admin tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import BASE_CONFIG
from tests.helpers import basic_auth

OPS_ID, OPS_SECRET = "ops", "ops-secret-for-admin-tests"
OPS = {
    "client_id": OPS_ID,
    "client_secret": OPS_SECRET,
    "grant_types": ["client_credentials"],
    "scopes": ["tokensmith:admin", "api:read"],
}
ADMIN_CONFIG: dict[str, Any] = {**BASE_CONFIG, "clients": [*BASE_CONFIG["clients"], OPS]}


def admin_headers(server: TestClient) -> dict[str, str]:
    response = server.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "tokensmith:admin"},
        headers=basic_auth(OPS_ID, OPS_SECRET),
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def token_for(server: TestClient, client_id: str, secret: str, **form: str) -> Any:
    return server.post(
        "/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic_auth(client_id, secret),
    )


@pytest.fixture
def make_admin_server(make_client: Callable[..., TestClient]) -> Callable[..., TestClient]:
    def make(**overrides: Any) -> TestClient:
        return make_client(**{**ADMIN_CONFIG, **overrides})

    return make


@pytest.fixture
def server(make_admin_server: Callable[..., TestClient]) -> TestClient:
    return make_admin_server()


@pytest.fixture
def headers(server: TestClient) -> dict[str, str]:
    return admin_headers(server)


async def minted_admin_token(settings: Any, scope: str) -> str:
    """A token for the admin API signed with the server's own key but with ``scope`` only.

    The server never issues one (the admin API owns only the admin scope), so
    this is how a test reaches the insufficient_scope branch of the guard.
    """
    import time

    from joserfc import jwt

    from tokensmith.keys.encryption import load_key_encryptor
    from tokensmith.keys.manager import KeyManager
    from tokensmith.stores.sql.engine import create_engine
    from tokensmith.stores.sql.keys import SqlKeyStore

    engine = create_engine(settings.database)
    try:
        keys = KeyManager(SqlKeyStore(engine), load_key_encryptor(settings))
        await keys.load()
        key = keys.active
    finally:
        await engine.dispose()
    now = int(time.time())
    claims = {
        "iss": settings.issuer_url,
        "aud": f"{settings.issuer_url}/admin",
        "sub": OPS_ID,
        "client_id": OPS_ID,
        "scope": scope,
        "iat": now,
        "exp": now + 300,
        "jti": "minted",
    }
    header = {"alg": key.algorithm, "kid": key.kid, "typ": "at+jwt"}
    return jwt.encode(header, claims, key.key, algorithms=[key.algorithm])
