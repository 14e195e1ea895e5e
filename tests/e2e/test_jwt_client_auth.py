"""private_key_jwt and client_secret_jwt end to end: a real server, Authlib's client.

Authlib signs the client assertions (``PrivateKeyJWT``, ``ClientSecretJWT``),
the server checks them, and PyJWT verifies the access tokens it issues.
One server serves every test here (each uses its own assertions): inline
keys, an HMAC secret, and keys published at a jwks_uri by a loopback HTTP
server that the test runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey, RSAKey

from tests.clientauth.assertions import (
    CLIENT_ASSERTION_TYPE,
    EC_KEY,
    HMAC_SECRET,
    RSA_KEY,
    JwksServer,
    module_database,
    public_jwk,
)
from tests.e2e.conftest import RunningServer, start_server
from tests.e2e.test_client_credentials_flow import verify

pytestmark = pytest.mark.e2e

RSA_PEM = RSA_KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
RSA_JWK = RSAKey.import_key(RSA_KEY)


def _toml_jwks(jwk: dict[str, Any]) -> str:
    """An inline TOML JWK Set of one key (JSON strings are TOML basic strings)."""
    fields = ", ".join(f"{name} = {json.dumps(value)}" for name, value in jwk.items())
    return f"{{ keys = [ {{ {fields} }} ] }}"


CONFIG = """
[[clients]]
client_id = "signing-service"
token_endpoint_auth_method = "private_key_jwt"
jwks = {jwks}
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[clients]]
client_id = "hmac-service"
token_endpoint_auth_method = "client_secret_jwt"
client_secret = "{secret}"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[clients]]
client_id = "published-keys-service"
token_endpoint_auth_method = "private_key_jwt"
token_endpoint_auth_signing_alg = "ES256"
jwks_uri = "{jwks_uri}"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]
"""


@pytest.fixture(scope="module")
def publisher() -> Iterator[JwksServer]:
    with JwksServer({"keys": [public_jwk(EC_KEY, "ec-1")]}).running() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, publisher) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("jwt-client-auth")
    config = workdir / "tokensmith.toml"
    config.write_text(
        CONFIG.format(
            jwks=_toml_jwks(public_jwk(RSA_KEY, "rsa-1")),
            secret=HMAC_SECRET,
            jwks_uri=publisher.url,
        )
    )
    with module_database() as database_url:
        running = start_server(workdir, ["--config", str(config)], database_url=database_url)
        try:
            yield running
        finally:
            running.stop()


def short_lived() -> dict[str, int]:
    """Authlib signs for an hour by default; the server accepts ten minutes at most."""
    return {"exp": int(time.time()) + 120}


def fetch(server: RunningServer, client_id: str, secret: Any, auth: Any) -> dict[str, Any]:
    with OAuth2Client(client_id, secret, token_endpoint_auth_method=auth) as oauth:
        return dict(oauth.fetch_token(f"{server.base_url}/token", grant_type="client_credentials"))


def assert_token_for(token: dict[str, Any], client_id: str, base_url: str) -> None:
    assert token["token_type"] == "Bearer"
    _, claims = verify(token["access_token"], base_url)
    assert claims["client_id"] == client_id
    assert claims["scope"] == "api:read"


def test_authlib_private_key_jwt_gets_a_token(server):
    auth = PrivateKeyJWT(f"{server.base_url}/token", claims=short_lived())
    token = fetch(server, "signing-service", RSA_PEM, auth)
    assert_token_for(token, "signing-service", server.base_url)


def test_authlib_client_secret_jwt_gets_a_token(server):
    auth = ClientSecretJWT(f"{server.base_url}/token", claims=short_lived())
    token = fetch(server, "hmac-service", HMAC_SECRET, auth)
    assert_token_for(token, "hmac-service", server.base_url)


def test_authlib_private_key_jwt_with_keys_at_jwks_uri(server, publisher):
    auth = PrivateKeyJWT(
        f"{server.base_url}/token", claims=short_lived(), headers={"kid": "ec-1"}, alg="ES256"
    )
    token = fetch(server, "published-keys-service", ECKey.import_key(EC_KEY), auth)
    assert_token_for(token, "published-keys-service", server.base_url)
    assert publisher.requests == 1


def test_replayed_assertion_is_refused_over_http(server):
    token_url = f"{server.base_url}/token"
    assertion = private_key_jwt_sign(RSA_JWK, "signing-service", token_url, claims=short_lived())
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    first = httpx2.post(token_url, data=form)
    assert first.status_code == 200, first.text
    replay = httpx2.post(token_url, data=form)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    assert "already used" in replay.json()["error_description"]


def test_wrong_audience_and_expired_assertions_are_refused_over_http(server):
    token_url = f"{server.base_url}/token"
    now = int(time.time())
    bad = {
        "wrong aud": private_key_jwt_sign(
            RSA_JWK, "signing-service", "https://other.example/token", claims=short_lived()
        ),
        "expired": private_key_jwt_sign(
            RSA_JWK, "signing-service", token_url, claims={"iat": now - 900, "exp": now - 600}
        ),
        "authlib's default hour": private_key_jwt_sign(RSA_JWK, "signing-service", token_url),
    }
    for reason, assertion in bad.items():
        response = httpx2.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        assert response.status_code == 401, reason
        assert response.json()["error"] == "invalid_client", reason
