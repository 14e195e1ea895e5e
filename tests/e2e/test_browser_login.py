"""A real browser through the real login and consent pages (OIDC Core 3.1).

Headless Chromium (Debian's package, driven by Playwright for Python) signs in
as alice and allows the client; the client's redirect_uri is a small HTTP
server in the test that records the callback. The client then redeems the code
with Authlib, validates the id_token with PyJWT against the JWKS, and calls
userinfo.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import RunningServer
from tests.oidc import ALICE_PASSWORD, at_hash

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 15_000

CLIENT_ID = "web-app"
CLIENT_SECRET = "web-secret"
SCOPE = "openid profile email"

CONFIG = """
[[clients]]
client_id = "{client_id}"
client_name = "Web App"
client_secret = "{client_secret}"
token_endpoint_auth_method = "client_secret_basic"
grant_types = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "email", "offline_access"]
redirect_uris = ["{redirect_uri}"]

[[users]]
username = "alice"
password = "{password}"
email = "alice@example.test"
claims = {{ given_name = "Alice", family_name = "Liddell", roles = ["admin"] }}
"""


class RedirectBlockedByCSP(AssertionError):
    """The browser refused to follow the server's redirect to the client (console message)."""


@dataclass
class Callback:
    """The client's redirection endpoint: records each request's query."""

    url: str
    queries: list[dict[str, str]] = field(default_factory=list)


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":  # e.g. the browser's /favicon.ico
            self.send_error(404)
            return
        query = parse_qs(parts.query)
        self.server.callback.queries.append({k: v[0] for k, v in query.items()})
        body = b"<!doctype html><title>Signed in</title><p>Back at the client.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


class _CallbackServer(HTTPServer):
    callback: Callback


@pytest.fixture
def callback() -> Iterator[Callback]:
    httpd = _CallbackServer(("127.0.0.1", 0), _CallbackHandler)
    port = httpd.server_address[1]
    httpd.callback = Callback(f"http://127.0.0.1:{port}/callback")
    thread = threading.Thread(target=httpd.serve_forever, name="oauth-callback", daemon=True)
    thread.start()
    try:
        yield httpd.callback
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


@pytest.fixture
def server(server_factory, callback: Callback) -> RunningServer:
    return server_factory(
        CONFIG.format(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=callback.url,
            password=ALICE_PASSWORD,
        )
    )


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install chromium; .ci/run does this in ensure_chromium)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console() -> list[str]:
    """What the browser logged to its console (CSP violations show up here)."""
    return []


@pytest.fixture
def page(browser: Browser, console: list[str]) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text))
        yield page
    finally:
        context.close()


@pytest.fixture
def web_app(callback: Callback) -> Iterator[OAuth2Client]:
    """The confidential client: client_secret_basic at the token endpoint, PKCE S256."""
    with OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        token_endpoint_auth_method="client_secret_basic",
        scope=SCOPE,
        redirect_uri=callback.url,
        code_challenge_method="S256",
    ) as client:
        yield client


def sign_in(page: Page, username: str, password: str) -> None:
    page.wait_for_url("**/login?interaction=*")
    assert page.title() == "Sign in"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def wait_for_callback(page: Page, callback: Callback, console: list[str]) -> dict[str, str]:
    """The query the client's redirect_uri received; fail fast if CSP blocked the redirect."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while not callback.queries:
        blocked = [text for text in console if "Content Security Policy" in text]
        if blocked:
            raise RedirectBlockedByCSP(blocked[0])
        assert time.monotonic() < deadline, f"the browser never reached {callback.url}: {console}"
        page.wait_for_timeout(50)
    page.wait_for_url(f"{callback.url}?*")
    assert len(callback.queries) == 1, callback.queries
    return callback.queries[0]


def validate_id_token(id_token: str, server: RunningServer) -> dict[str, Any]:
    """Signature against the JWKS, iss, aud, exp (PyJWT, independent of the server)."""
    signing_key = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks.json")
    key = signing_key.get_signing_key_from_jwt(id_token)
    return jwt.decode(
        id_token,
        key.key,
        algorithms=["ES256"],
        audience=CLIENT_ID,
        issuer=server.base_url,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce", "at_hash"]},
    )


def test_browser_signs_in_consents_and_client_validates_id_token_and_calls_userinfo(
    server, callback, console, page, web_app
):
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = web_app.create_authorization_url(
        f"{server.base_url}/authorize", code_verifier=verifier, nonce=nonce
    )

    page.goto(url)
    sign_in(page, "alice", ALICE_PASSWORD)
    page.wait_for_url("**/consent?interaction=*")
    assert page.title() == "Allow access"
    assert page.get_by_role("heading").inner_text() == "Web App wants to access your account"
    assert page.locator("ul.scopes li").all_inner_texts() == SCOPE.split(" ")
    page.get_by_role("button", name="Allow").click()
    answer = wait_for_callback(page, callback, console)

    assert page.get_by_role("paragraph").inner_text() == "Back at the client."
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == state
    assert answer["iss"] == server.base_url  # RFC 9207

    token = web_app.fetch_token(
        f"{server.base_url}/token", code=answer["code"], code_verifier=verifier
    )
    assert token["token_type"] == "Bearer"
    claims = validate_id_token(token["id_token"], server)
    assert claims["nonce"] == nonce
    assert claims["at_hash"] == at_hash(token["access_token"])
    assert claims["given_name"] == "Alice"
    assert claims["email"] == "alice@example.test"

    userinfo = httpx2.get(
        f"{server.base_url}/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.headers["content-type"].startswith("application/json")
    profile = userinfo.json()
    assert profile["sub"] == claims["sub"]
    assert profile["given_name"] == "Alice"
    assert profile["family_name"] == "Liddell"
    assert profile["preferred_username"] == "alice"
    assert profile["email"] == "alice@example.test"
    assert profile["email_verified"] is True
    assert "roles" not in profile  # not a standard claim of any granted scope


def test_browser_wrong_password_shows_error_and_stays_on_login_page(
    server, callback, page, web_app
):
    url, _ = web_app.create_authorization_url(
        f"{server.base_url}/authorize", code_verifier=generate_token(48), nonce=generate_token(20)
    )

    page.goto(url)
    sign_in(page, "alice", "not alice's password")

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "Invalid username or password."
    assert page.title() == "Sign in"
    assert urlsplit(page.url).path == "/login"
    assert page.get_by_label("Username").input_value() == "alice"
    assert page.get_by_label("Password").input_value() == ""
    assert callback.queries == []
