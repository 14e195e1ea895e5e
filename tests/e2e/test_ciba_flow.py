"""CIBA (OpenID Connect CIBA Core 1.0) end to end against the real server process.

The relying party is an httpx2 client on the back channel; the user is a
second httpx2 client with a cookie jar that signs in through the real
/authorize and /login pages, then answers on /ciba/pending (poll mode) or
through the approval API (ping mode). In ping mode the relying party's
notification endpoint is a ThreadingHTTPServer in the test.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import jwt
import pytest

from tests.e2e.conftest import RunningServer
from tests.oidc import ALICE_PASSWORD, REDIRECT_URI, authorize_params, hidden_fields

pytestmark = pytest.mark.e2e

CIBA = "urn:openid:params:grant-type:ciba"
POLL = ("pos-terminal", "pos-secret")
PING = ("call-centre", "call-centre-secret")
NOTIFY_PATH = "/ciba/notify"
WAIT_SECONDS = 10

CONFIG = """
ciba_interval = 1

[[clients]]
client_id = "web-app"
client_secret = "web-secret"
grant_types = ["authorization_code"]
scopes = ["openid"]
redirect_uris = ["{redirect_uri}"]
require_consent = false

[[clients]]
client_id = "pos-terminal"
client_name = "Shop Terminal 7"
client_secret = "pos-secret"
grant_types = ["urn:openid:params:grant-type:ciba"]
scopes = ["openid", "profile"]

[[clients]]
client_id = "call-centre"
client_name = "Call Centre"
client_secret = "call-centre-secret"
grant_types = ["urn:openid:params:grant-type:ciba"]
scopes = ["openid", "profile"]
backchannel_token_delivery_mode = "ping"
backchannel_client_notification_endpoint = "{notify_url}"

[[users]]
username = "alice"
password = "{password}"
claims = {{ given_name = "Alice" }}
"""


@dataclass
class Notifications:
    """What the relying party's notification endpoint received."""

    received: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self) -> dict[str, Any]:
        assert self.arrived.wait(WAIT_SECONDS), "no ping arrived"
        self.arrived.clear()
        return self.received[-1]


@pytest.fixture
def notifications() -> Iterator[tuple[Notifications, str]]:
    """A client notification endpoint on 127.0.0.1 that records each POST and answers 204."""
    seen = Notifications()

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            seen.received.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("authorization"),
                    "content_type": self.headers.get("content-type"),
                    "body": json.loads(body),
                }
            )
            self.send_response(204)
            self.end_headers()
            seen.arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen, f"http://127.0.0.1:{httpd.server_address[1]}{NOTIFY_PATH}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server(server_factory, notifications) -> RunningServer:
    _, notify_url = notifications
    config = CONFIG.format(
        notify_url=notify_url, password=ALICE_PASSWORD, redirect_uri=REDIRECT_URI
    )
    return server_factory(config)


@pytest.fixture
def browser(server: RunningServer) -> Iterator[httpx2.Client]:
    """Alice's browser, signed in through the real authorization and login pages."""
    with httpx2.Client(base_url=server.base_url) as client:
        params = {k: v for k, v in authorize_params(scope="openid").items() if k[0] != "_"}
        page = client.get("/authorize", params=params, follow_redirects=True)
        assert page.status_code == 200, page.text
        form = {**hidden_fields(page.text), "username": "alice", "password": ALICE_PASSWORD}
        signed_in = client.post("/login", data={**form, "action": "login"})
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"].startswith(f"{REDIRECT_URI}?code=")
        yield client


def backchannel(server: RunningServer, who: tuple[str, str], **fields: str) -> dict[str, Any]:
    response = httpx2.post(
        f"{server.base_url}/backchannel",
        data={"scope": "openid profile", "login_hint": "alice", **fields},
        auth=who,
    )
    assert response.status_code == 200, response.text
    return response.json()


def token_request(server: RunningServer, who: tuple[str, str], auth_req_id: str):
    return httpx2.post(
        f"{server.base_url}/token",
        data={"grant_type": CIBA, "auth_req_id": auth_req_id},
        auth=who,
    )


def verify_id_token(token: str, server: RunningServer, audience: str) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks.json")
    return jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["ES256"],
        audience=audience,
        issuer=server.base_url,
        options={"require": ["iss", "sub", "aud", "exp", "iat", "auth_time"]},
    )


def assert_tokens_for_alice(response: httpx2.Response, server: RunningServer, client_id: str):
    assert response.status_code == 200, response.text
    tokens = response.json()
    claims = verify_id_token(tokens["id_token"], server, client_id)
    userinfo = httpx2.get(
        f"{server.base_url}/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    ).json()
    assert claims["sub"] == userinfo["sub"]
    assert claims["given_name"] == "Alice"


def test_poll_mode_user_approves_on_the_pending_page(server, browser):
    started = backchannel(server, POLL, binding_message="Till 7: 23.40 EUR")
    assert started["interval"] == 1
    auth_req_id = started["auth_req_id"]
    pending = token_request(server, POLL, auth_req_id)
    assert pending.status_code == 400
    assert pending.json()["error"] == "authorization_pending"

    page = browser.get("/ciba/pending")
    assert page.status_code == 200
    assert "Shop Terminal 7" in page.text
    assert "Till 7: 23.40 EUR" in page.text
    assert auth_req_id not in page.text
    answered = browser.post("/ciba/pending", data={**hidden_fields(page.text), "action": "approve"})
    assert answered.status_code == 303
    assert "No sign-in requests are waiting" in browser.get(answered.headers["location"]).text

    time.sleep(started["interval"] + 0.2)
    assert_tokens_for_alice(token_request(server, POLL, auth_req_id), server, POLL[0])
    again = token_request(server, POLL, auth_req_id)
    assert again.json()["error"] == "invalid_grant"


def test_ping_mode_server_calls_the_client_back_after_approval(server, browser, notifications):
    seen, _ = notifications
    notification_token = secrets.token_urlsafe(24)
    auth_req_id = backchannel(server, PING, client_notification_token=notification_token)[
        "auth_req_id"
    ]
    listing = browser.get("/ciba/requests").json()
    (request,) = listing["requests"]
    assert request["client_name"] == "Call Centre"
    approved = browser.post(
        f"/ciba/requests/{request['id']}/approve",
        headers={"X-CSRF-Token": listing["csrf_token"]},
    )
    assert approved.status_code == 200, approved.text

    ping = seen.wait()
    assert ping["path"] == NOTIFY_PATH
    assert ping["authorization"] == f"Bearer {notification_token}"
    assert ping["content_type"].startswith("application/json")
    assert ping["body"] == {"auth_req_id": auth_req_id}
    assert_tokens_for_alice(token_request(server, PING, auth_req_id), server, PING[0])


def test_ping_mode_denial_is_pinged_and_then_access_denied(server, browser, notifications):
    seen, _ = notifications
    auth_req_id = backchannel(server, PING, client_notification_token="deny-me")["auth_req_id"]
    listing = browser.get("/ciba/requests").json()
    (request,) = listing["requests"]
    denied = browser.post(
        f"/ciba/requests/{request['id']}/deny",
        headers={"X-CSRF-Token": listing["csrf_token"]},
    )
    assert denied.json() == {"id": request["id"], "status": "denied"}
    assert seen.wait()["body"] == {"auth_req_id": auth_req_id}
    answer = token_request(server, PING, auth_req_id)
    assert answer.status_code == 400
    assert answer.json()["error"] == "access_denied"
