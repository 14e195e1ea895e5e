"""Device flow (RFC 8628) end to end over HTTP against the real server."""

from __future__ import annotations

import re
import time

import httpx2
import jwt
import pytest

pytestmark = pytest.mark.e2e

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CONFIG = """
device_code_interval = {interval}
device_code_lifetime = {lifetime}

[[clients]]
client_id = "tv-app"
client_name = "Living Room TV"
token_endpoint_auth_method = "none"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
scopes = ["openid", "profile", "offline_access"]

[[users]]
username = "alice"
password = "correct horse battery staple"
claims = {{ given_name = "Alice" }}
"""


def start_device_flow(base_url: str) -> dict:
    response = httpx2.post(
        f"{base_url}/device_authorization",
        data={"client_id": "tv-app", "scope": "openid profile offline_access"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def poll(base_url: str, device_code: str) -> httpx2.Response:
    return httpx2.post(
        f"{base_url}/token",
        data={"grant_type": GRANT, "device_code": device_code, "client_id": "tv-app"},
    )


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def user_answers(started: dict, action: str) -> str:
    """The user opens verification_uri_complete, signs in, and approves or denies."""
    with httpx2.Client() as browser:
        page = browser.get(started["verification_uri_complete"])
        assert page.status_code == 200
        assert started["user_code"] in page.text  # prefilled
        confirm = browser.post(
            started["verification_uri"],
            data={
                **hidden(page.text),
                "user_code": started["user_code"].lower(),
                "username": "alice",
                "password": "correct horse battery staple",
                "action": "continue",
            },
        )
        assert confirm.status_code == 200, confirm.text
        assert "Living Room TV" in confirm.text
        assert "profile" in confirm.text
        done = browser.post(
            f"{started['verification_uri']}/confirm",
            data={**hidden(confirm.text), "action": action},
        )
        assert done.status_code == 200
        return done.text


def error_of(response: httpx2.Response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_device_flow_pending_then_approved_then_single_use(server_factory):
    server = server_factory(CONFIG.format(lifetime=60, interval=1))
    started = start_device_flow(server.base_url)
    assert re.fullmatch(r"[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}", started["user_code"])
    assert started["verification_uri"] == f"{server.base_url}/device"
    assert started["interval"] == 1
    assert error_of(poll(server.base_url, started["device_code"])) == "authorization_pending"
    assert "connected" in user_answers(started, "approve")
    time.sleep(1.1)
    tokens = poll(server.base_url, started["device_code"])
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert {"access_token", "id_token", "refresh_token"} <= set(body)
    key = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks.json").get_signing_key_from_jwt(
        body["id_token"]
    )
    claims = jwt.decode(body["id_token"], key.key, algorithms=["ES256"], audience="tv-app")
    assert claims["given_name"] == "Alice"
    time.sleep(1.1)
    assert error_of(poll(server.base_url, started["device_code"])) == "invalid_grant"


def test_polling_too_fast_gets_slow_down_and_the_interval_grows(server_factory):
    # A 3 s interval: two back-to-back polls stay well inside it even on a loaded CI
    # machine (with 1 s, a slow first poll let the second one arrive in time).
    server = server_factory(CONFIG.format(lifetime=60, interval=3))
    started = start_device_flow(server.base_url)
    assert error_of(poll(server.base_url, started["device_code"])) == "authorization_pending"
    slow = poll(server.base_url, started["device_code"])
    assert error_of(slow) == "slow_down"
    assert "8 seconds" in slow.json()["error_description"]
    time.sleep(3.1)  # the old interval is not enough any more
    assert error_of(poll(server.base_url, started["device_code"])) == "slow_down"


def test_denied_request_gets_access_denied(server_factory):
    server = server_factory(CONFIG.format(lifetime=60, interval=1))
    started = start_device_flow(server.base_url)
    assert "denied" in user_answers(started, "deny")
    assert error_of(poll(server.base_url, started["device_code"])) == "access_denied"


def test_expired_device_code_gets_expired_token(server_factory):
    server = server_factory(CONFIG.format(lifetime=1, interval=1))
    started = start_device_flow(server.base_url)
    time.sleep(1.2)
    assert error_of(poll(server.base_url, started["device_code"])) == "expired_token"
