"""Pushed authorization requests (RFC 9126) end to end against the real server.

Authlib's OAuth2Client builds the authorization request (state, nonce, PKCE)
and the client pushes it to the endpoint discovery names; an httpx2 client
with a cookie jar plays the browser through /authorize, the real login and
consent pages; the code is redeemed with the PKCE verifier.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from tests.e2e.conftest import RunningServer
from tests.oidc import ALICE_PASSWORD, hidden_fields, query_of

pytestmark = pytest.mark.e2e

CLIENT_ID = "web-app"
CLIENT_SECRET = "web-secret"
REDIRECT_URI = "https://app.example.test/callback"
PAR_ONLY_REDIRECT = "https://par-only.example.test/callback"
SCOPE = "openid profile api:read"

CONFIG = f"""
[[clients]]
client_id = "{CLIENT_ID}"
client_name = "Web App"
client_secret = "{CLIENT_SECRET}"
grant_types = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "api:read"]
redirect_uris = ["{REDIRECT_URI}"]

[[clients]]
client_id = "par-only"
client_secret = "par-secret"
grant_types = ["authorization_code"]
scopes = ["openid", "profile"]
redirect_uris = ["{PAR_ONLY_REDIRECT}"]
require_pushed_authorization_requests = true

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]

[[users]]
username = "alice"
password = "{ALICE_PASSWORD}"
"""


@pytest.fixture
def server(server_factory) -> RunningServer:
    return server_factory(CONFIG)


@pytest.fixture
def web_app(server: RunningServer) -> Iterator[OAuth2Client]:
    with OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        token_endpoint_auth_method="client_secret_basic",
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


def push(server: RunningServer, params: dict[str, str], auth: tuple[str, str]) -> httpx2.Response:
    metadata = httpx2.get(f"{server.base_url}/.well-known/openid-configuration").json()
    return httpx2.post(metadata["pushed_authorization_request_endpoint"], data=params, auth=auth)


def submit_page(browser: httpx2.Client, location: str, fields: dict[str, str]) -> httpx2.Response:
    """Open a login or consent page as the browser would and post its form."""
    page = browser.get(location)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    path = location.split("?", 1)[0]
    return browser.post(path, data={**hidden_fields(page.text), **fields}, follow_redirects=False)


def test_pushed_request_runs_the_whole_flow_once(server, web_app, browser):
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = web_app.create_authorization_url(
        f"{server.base_url}/authorize", code_verifier=verifier, nonce=nonce
    )
    pushed = push(server, query_of(url), (CLIENT_ID, CLIENT_SECRET))
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert pushed.json()["expires_in"] == 60
    by_reference = {"client_id": CLIENT_ID, "request_uri": request_uri}

    response = browser.get("/authorize", params=by_reference, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/login?interaction=")
    credentials = {"username": "alice", "password": ALICE_PASSWORD, "action": "login"}
    response = submit_page(browser, response.headers["location"], credentials)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/consent?interaction=")
    response = submit_page(browser, response.headers["location"], {"action": "allow"})

    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    answer = query_of(location)
    assert answer["state"] == state
    assert answer["iss"] == server.base_url
    token = web_app.fetch_token(
        f"{server.base_url}/token", code=answer["code"], code_verifier=verifier
    )
    assert set(token["scope"].split(" ")) == set(SCOPE.split(" "))
    assert token["id_token"] and token["access_token"]

    # RFC 9126 section 4: the request_uri is single use.
    replay = browser.get("/authorize", params=by_reference, follow_redirects=False)
    assert replay.status_code == 400
    assert "location" not in replay.headers
    assert "invalid_request_uri" in replay.text


def test_par_required_client_is_refused_without_par(server, browser):
    with OAuth2Client(
        "par-only",
        "par-secret",
        scope="openid",
        redirect_uri=PAR_ONLY_REDIRECT,
        code_challenge_method="S256",
    ) as par_only:
        url, state = par_only.create_authorization_url(
            f"{server.base_url}/authorize", code_verifier=generate_token(48)
        )

    plain = browser.get(url, follow_redirects=False)

    assert plain.status_code == 303, plain.text
    assert plain.headers["location"].startswith(PAR_ONLY_REDIRECT + "?")
    answer = query_of(plain.headers["location"])
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "pushed authorization request required"
    assert answer["state"] == state
    assert "code" not in answer
    # The same request pushed first is accepted and goes on to sign-in.
    pushed = push(server, query_of(url), ("par-only", "par-secret"))
    assert pushed.status_code == 201, pushed.text
    by_reference = {"client_id": "par-only", "request_uri": pushed.json()["request_uri"]}
    response = browser.get("/authorize", params=by_reference, follow_redirects=False)
    assert response.headers["location"].startswith("/login?interaction=")
