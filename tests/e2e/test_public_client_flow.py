"""Authorization code + PKCE for a public client, end to end without a browser.

A real server process; Authlib's OAuth2Client (token_endpoint_auth_method
"none") is the client, and an httpx2 client with a cookie jar plays the user's
browser through /authorize and /login (the client needs no consent page).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError

from tests.e2e.conftest import RunningServer
from tests.oidc import ALICE_PASSWORD, at_hash, hidden_fields, query_of

pytestmark = pytest.mark.e2e

CLIENT_ID = "spa"
REDIRECT_URI = "http://127.0.0.1:9999/spa/callback"
SCOPE = "openid profile offline_access api:read"

CONFIG = f"""
[[clients]]
client_id = "{CLIENT_ID}"
client_name = "Single Page App"
token_endpoint_auth_method = "none"
grant_types = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "offline_access", "api:read"]
redirect_uris = ["{REDIRECT_URI}"]
require_consent = false

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read", "api:write"]

[[users]]
username = "alice"
password = "{ALICE_PASSWORD}"
email = "alice@example.test"
claims = {{ given_name = "Alice", family_name = "Liddell", roles = ["admin"] }}
"""


@dataclass(frozen=True)
class CodeGrant:
    """What the client holds after the redirect: the code, and what it sent to get it."""

    code: str
    verifier: str
    nonce: str


@pytest.fixture
def server(server_factory) -> RunningServer:
    return server_factory(CONFIG)


@pytest.fixture
def spa(server: RunningServer) -> Iterator[OAuth2Client]:
    """The public client: no secret, PKCE S256."""
    with OAuth2Client(
        CLIENT_ID,
        token_endpoint_auth_method="none",
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    ) as client:
        yield client


@pytest.fixture
def browser(server: RunningServer) -> Iterator[httpx2.Client]:
    """The user agent: keeps the server's cookies (CSRF, session) between requests."""
    with httpx2.Client(base_url=server.base_url) as client:
        yield client


def sign_in_as_alice(browser: httpx2.Client, authorize_url: str) -> httpx2.Response:
    """Follow /authorize to /login, submit the form; return the redirect to the client."""
    response = browser.get(authorize_url, follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/login?interaction="), location
    page = browser.get(location)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    fields = hidden_fields(page.text)
    assert set(fields) == {"csrf_token", "interaction"}
    form = {**fields, "username": "alice", "password": ALICE_PASSWORD, "action": "login"}
    return browser.post("/login", data=form, follow_redirects=False)


def authorize(server: RunningServer, spa: OAuth2Client, browser: httpx2.Client) -> CodeGrant:
    """Run the front channel and return the code from the redirect_uri's query."""
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = spa.create_authorization_url(
        f"{server.base_url}/authorize", code_verifier=verifier, nonce=nonce
    )
    response = sign_in_as_alice(browser, url)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    answer = query_of(location)
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == state
    assert answer["iss"] == server.base_url
    return CodeGrant(answer["code"], verifier, nonce)


def verify_id_token(token: str, server: RunningServer) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["ES256"],
        audience=CLIENT_ID,
        issuer=server.base_url,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce", "at_hash"]},
    )


def test_public_client_with_pkce_gets_id_token_and_refresh_token(server, spa, browser):
    grant = authorize(server, spa, browser)

    token = spa.fetch_token(
        f"{server.base_url}/token", code=grant.code, code_verifier=grant.verifier
    )

    assert token["token_type"] == "Bearer"
    assert set(token.get("scope", "").split(" ")) == set(SCOPE.split(" "))
    assert token["access_token"]
    assert token["refresh_token"]
    claims = verify_id_token(token["id_token"], server)
    assert claims["nonce"] == grant.nonce
    assert claims["given_name"] == "Alice"
    assert claims["family_name"] == "Liddell"
    assert "email" not in claims  # the spa was not granted the email scope
    assert claims["at_hash"] == at_hash(token["access_token"])
    userinfo = httpx2.get(
        f"{server.base_url}/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["given_name"] == "Alice"
    assert "email" not in userinfo.json()


def test_public_client_refresh_rotates_the_refresh_token(server, spa, browser):
    grant = authorize(server, spa, browser)
    first = spa.fetch_token(
        f"{server.base_url}/token", code=grant.code, code_verifier=grant.verifier
    )
    first_refresh = first["refresh_token"]

    second = spa.refresh_token(f"{server.base_url}/token", refresh_token=first_refresh)

    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first_refresh
    # RFC 9700 section 4.14.2: a rotated refresh token is spent.
    with pytest.raises(OAuthError) as spent:
        spa.refresh_token(f"{server.base_url}/token", refresh_token=first_refresh)
    assert spent.value.error == "invalid_grant"


def test_public_client_code_redeemed_twice_is_invalid_grant(server, spa, browser):
    grant = authorize(server, spa, browser)
    first = spa.fetch_token(
        f"{server.base_url}/token", code=grant.code, code_verifier=grant.verifier
    )

    with pytest.raises(OAuthError) as replay:
        spa.fetch_token(f"{server.base_url}/token", code=grant.code, code_verifier=grant.verifier)

    assert replay.value.error == "invalid_grant"
    # RFC 6749 section 4.1.2: the server SHOULD revoke the tokens issued on that code.
    with pytest.raises(OAuthError) as revoked:
        spa.refresh_token(f"{server.base_url}/token", refresh_token=first["refresh_token"])
    assert revoked.value.error == "invalid_grant"


def test_public_client_code_with_wrong_code_verifier_is_invalid_grant(server, spa, browser):
    grant = authorize(server, spa, browser)

    with pytest.raises(OAuthError) as wrong:
        spa.fetch_token(
            f"{server.base_url}/token", code=grant.code, code_verifier=generate_token(48)
        )

    assert wrong.value.error == "invalid_grant"


def test_public_client_authorization_request_without_code_challenge_is_invalid_request(
    server, spa, browser
):
    url, state = spa.create_authorization_url(f"{server.base_url}/authorize")
    assert "code_challenge" not in url

    response = browser.get(url, follow_redirects=False)

    # RFC 7636 section 4.4.1 and RFC 6749 section 4.1.2.1: the error goes
    # back to the registered redirect_uri, with the client's state.
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    answer = query_of(location)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"]
    assert answer["state"] == state
    assert answer["iss"] == server.base_url
    assert "code" not in answer
