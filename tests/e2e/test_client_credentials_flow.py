"""client_credentials end to end: a real server, Authlib's client, PyJWT to verify."""

from __future__ import annotations

import time

import jwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client

pytestmark = pytest.mark.e2e

AUDIENCE = "https://api.example.test"


def verify(token: str, base_url: str) -> tuple[dict, dict]:
    """Verify with PyJWT against the server's JWKS (an independent JOSE library)."""
    jwks = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json")
    signing_key = jwks.get_signing_key_from_jwt(token)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=base_url,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
    )
    return header, claims


@pytest.mark.parametrize(
    ("client_id", "secret", "method", "scope"),
    [
        ("orders-service", "s3cret-from-a-vault", "client_secret_basic", "api:read api:write"),
        ("reports-job", "reports-secret", "client_secret_post", "api:read"),
    ],
)
def test_authlib_client_gets_a_verifiable_rfc9068_jwt(
    server_factory, config_text, client_id, secret, method, scope
):
    server = server_factory(config_text)
    with OAuth2Client(client_id, secret, token_endpoint_auth_method=method, scope=scope) as oauth:
        before = int(time.time())
        token = oauth.fetch_token(f"{server.base_url}/token", grant_type="client_credentials")
        after = int(time.time())

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == scope
    assert "refresh_token" not in token
    assert "id_token" not in token

    header, claims = verify(token["access_token"], server.base_url)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == server.base_url
    assert claims["sub"] == client_id
    assert claims["client_id"] == client_id
    assert claims["aud"] == AUDIENCE
    assert claims["scope"] == scope
    assert before <= claims["iat"] <= after
    assert claims["exp"] == claims["iat"] + 3600
    assert len(claims["jti"]) >= 16


def test_each_token_has_a_fresh_jti(server_factory, config_text):
    server = server_factory(config_text)
    with OAuth2Client("orders-service", "s3cret-from-a-vault") as oauth:
        first = oauth.fetch_token(f"{server.base_url}/token", grant_type="client_credentials")
        second = oauth.fetch_token(f"{server.base_url}/token", grant_type="client_credentials")
    _, a = verify(first["access_token"], server.base_url)
    _, b = verify(second["access_token"], server.base_url)
    assert a["jti"] != b["jti"]


def test_wrong_secret_is_refused_by_the_real_server(server_factory, config_text):
    server = server_factory(config_text)
    with OAuth2Client("orders-service", "wrong") as oauth:
        response = oauth.post(
            f"{server.base_url}/token",
            data={"grant_type": "client_credentials"},
            auth=("orders-service", "wrong"),
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
