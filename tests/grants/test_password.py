"""password grant: off by default, only for clients allowed it, throttled."""

from __future__ import annotations

import pytest

from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.oidc import ALICE_PASSWORD, OIDC_CONFIG

LEGACY = basic_auth("legacy", "legacy-secret")


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


def password_request(client, username="alice", password=ALICE_PASSWORD, headers=LEGACY, **extra):
    return client.post(
        "/token",
        data={"grant_type": "password", "username": username, "password": password, **extra},
        headers=headers,
    )


def test_allowed_client_gets_tokens_for_the_user(oidc):
    response = password_request(oidc, scope="openid offline_access api:read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" in body
    assert "id_token" not in body
    _, claims = decode_jwt_unverified(body["access_token"])
    assert claims["client_id"] == "legacy"
    assert claims["sub"] != "legacy"


def test_other_clients_are_unauthorized_client(oidc):
    response = password_request(oidc, headers=basic_auth("web-app", "web-secret"))
    assert_oauth_error(response, "unauthorized_client", 400)


def test_wrong_password_is_invalid_grant(oidc):
    assert_oauth_error(password_request(oidc, password="wrong"), "invalid_grant", 400)


def test_unknown_user_is_invalid_grant(oidc):
    assert_oauth_error(password_request(oidc, username="mallory"), "invalid_grant", 400)


def test_repeated_failures_lock_the_username(make_client):
    client = make_client(**OIDC_CONFIG, login_max_failures=3, login_lockout_seconds=60)
    for _ in range(3):
        assert_oauth_error(password_request(client, password="wrong"), "invalid_grant", 400)
    locked = password_request(client)  # the right password, but locked
    body = assert_oauth_error(locked, "invalid_grant", 400)
    assert "too many failed attempts" in body["error_description"]


def test_password_grant_is_unsupported_when_disabled(make_client):
    config = {**OIDC_CONFIG, "password_grant_enabled": False}
    config["clients"] = [c for c in OIDC_CONFIG["clients"] if "password" not in c["grant_types"]]
    client = make_client(**config)
    response = password_request(client, headers=basic_auth("web-app", "web-secret"))
    assert_oauth_error(response, "unsupported_grant_type", 400)
