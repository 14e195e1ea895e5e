"""The real server prints audit events as JSON lines, and never a credential in them."""

from __future__ import annotations

import json
import re

import httpx2
import pytest

from tests.helpers import basic_auth
from tests.oidc import hidden_fields, pkce_pair

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "wrong-horse-battery-staple"
SECRET = "machine-secret-0123456789"
WEB_SECRET = "web-secret-0123456789"
REDIRECT = "https://app.example.test/callback"
CONFIG = f"""
[[clients]]
client_id = "machine"
client_secret = "{SECRET}"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[clients]]
client_id = "web-app"
client_secret = "{WEB_SECRET}"
grant_types = ["authorization_code", "refresh_token"]
scopes = ["openid", "offline_access", "api:read"]
redirect_uris = ["{REDIRECT}"]
require_consent = false

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]

[[users]]
username = "alice"
password = "{PASSWORD}"
"""
WEB = basic_auth("web-app", WEB_SECRET)


def sign_in(server, password: str) -> tuple[httpx2.Response, str]:
    """Start an authorization request as a browser, post the login form; (answer, verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "web-app",
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access api:read",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx2.Client(base_url=server.base_url) as browser:
        login = browser.get(browser.get("/authorize", params=params).headers["location"])
        form = {**hidden_fields(login.text), "username": "alice", "password": password}
        return browser.post("/login", data={**form, "action": "login"}), verifier


def redeem(server, location: str, verifier: str) -> httpx2.Response:
    code = re.search(r"code=([^&]+)", location).group(1)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return httpx2.post(f"{server.base_url}/token", data=data, headers=WEB)


def audit_lines(output: str) -> list[dict]:
    events = []
    for line in output.splitlines():
        if line.startswith("{"):
            event = json.loads(line)  # every such line is one whole JSON object
            events.append(event)
    return events


def test_the_server_prints_json_audit_events_without_credentials(server_factory):
    server = server_factory(CONFIG)
    token_url = f"{server.base_url}/token"
    cc = {"grant_type": "client_credentials"}
    issued = httpx2.post(token_url, data=cc, headers=basic_auth("machine", SECRET)).json()
    refused = httpx2.post(token_url, data=cc, headers=basic_auth("machine", "not-" + SECRET))
    assert refused.status_code == 401
    assert sign_in(server, WRONG_PASSWORD)[0].status_code == 401
    answer, verifier = sign_in(server, PASSWORD)
    tokens = redeem(server, answer.headers["location"], verifier).json()
    revoke = httpx2.post(
        f"{server.base_url}/revoke", data={"token": tokens["refresh_token"]}, headers=WEB
    )
    assert revoke.status_code == 200
    output = server.stop()

    events = audit_lines(output)
    by_name: dict[str, list[dict]] = {}
    for event in events:
        by_name.setdefault(event["event"], []).append(event)
    issued_events = by_name["token.issued"]
    assert [(e["client_id"], e["grant_type"]) for e in issued_events] == [
        ("machine", "client_credentials"),
        ("web-app", "authorization_code"),
    ]
    [refusal] = by_name["token.refused"]
    assert (refusal["client_id"], refusal["error"], refusal["outcome"]) == (
        "machine",
        "invalid_client",
        "failure",
    )
    [failed] = by_name["login.failed"]
    [succeeded] = by_name["login.succeeded"]
    assert failed["username"] == succeeded["username"] == "alice"
    assert succeeded["subject"] == issued_events[1]["subject"]
    [revoked] = by_name["token.revoked"]
    assert (revoked["outcome"], revoked["token_type"]) == ("success", "refresh_token")
    assert all(e["source_address"] == "127.0.0.1" for e in events)

    credentials = [SECRET, WEB_SECRET, PASSWORD, WRONG_PASSWORD, issued["access_token"]]
    credentials += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    for credential in credentials:
        assert credential not in output


def test_audit_log_false_prints_no_events(server_factory):
    server = server_factory(f"audit_log = false\n{CONFIG}")
    cc = {"grant_type": "client_credentials"}
    answer = httpx2.post(f"{server.base_url}/token", data=cc, headers=basic_auth("machine", SECRET))
    assert answer.status_code == 200
    assert audit_lines(server.stop()) == []
