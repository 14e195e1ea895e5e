"""Device flow edge cases in process: codes, clients, CSRF, discovery."""

from __future__ import annotations

import pytest

from tests.helpers import assert_oauth_error, basic_auth
from tests.oidc import OIDC_CONFIG, hidden_fields

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TV = {
    "client_id": "tv",
    "token_endpoint_auth_method": "none",
    "grant_types": [GRANT],
    "scopes": ["openid", "profile"],
    "client_name": "TV",
}
CONFIG = {**OIDC_CONFIG, "clients": [*OIDC_CONFIG["clients"], TV], "device_code_interval": 1}


@pytest.fixture
def server(make_client):
    return make_client(**CONFIG)


def start(server, **data):
    response = server.post(
        "/device_authorization", data={"client_id": "tv", "scope": "openid", **data}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_client_without_the_device_grant_is_unauthorized(server):
    response = server.post(
        "/device_authorization",
        data={"scope": "openid"},
        headers=basic_auth("web-app", "web-secret"),
    )
    assert_oauth_error(response, "unauthorized_client", 400)


def test_scope_outside_the_client_allow_list_is_invalid_scope(server):
    response = server.post("/device_authorization", data={"client_id": "tv", "scope": "email"})
    assert_oauth_error(response, "invalid_scope", 400)


def test_device_code_of_another_client_is_invalid_grant(server):
    started = start(server)
    response = server.post(
        "/token",
        data={"grant_type": GRANT, "device_code": started["device_code"]},
        headers=basic_auth("web-app", "web-secret"),
    )
    assert_oauth_error(response, "unauthorized_client", 400)


def test_unknown_device_code_is_invalid_grant(server):
    response = server.post(
        "/token", data={"grant_type": GRANT, "device_code": "nope", "client_id": "tv"}
    )
    assert_oauth_error(response, "invalid_grant", 400)


def test_missing_device_code_is_invalid_request(server):
    response = server.post("/token", data={"grant_type": GRANT, "client_id": "tv"})
    assert_oauth_error(response, "invalid_request", 400)


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{nodash}", " {code} "])
def test_user_code_is_case_insensitive_and_ignores_the_dash(server, typed):
    started = start(server)
    code = started["user_code"]
    value = typed.format(code=code, lower=code.lower(), nodash=code.replace("-", ""))
    page = server.get("/device")
    response = server.post(
        "/device",
        data={
            **hidden_fields(page.text),
            "user_code": value,
            "username": "alice",
            "password": "correct horse battery staple",
        },
    )
    assert response.status_code == 200
    assert "Allow TV on your device?" in response.text


def test_wrong_user_code_is_refused_on_the_page(server):
    start(server)
    page = server.get("/device")
    response = server.post(
        "/device",
        data={
            **hidden_fields(page.text),
            "user_code": "BCDF-GHJK",
            "username": "alice",
            "password": "x",
        },
    )
    assert response.status_code == 400
    assert "not valid" in response.text


def test_device_form_without_csrf_token_is_refused(server):
    started = start(server)
    response = server.post(
        "/device",
        data={
            "user_code": started["user_code"],
            "username": "alice",
            "password": "correct horse battery staple",
        },
    )
    assert response.status_code == 400
    assert "tokensmith_session" not in server.cookies


def test_wrong_password_on_the_device_page_is_refused(server):
    started = start(server)
    page = server.get("/device")
    response = server.post(
        "/device",
        data={
            **hidden_fields(page.text),
            "user_code": started["user_code"],
            "username": "alice",
            "password": "wrong",
        },
    )
    assert response.status_code == 401
    assert "Invalid username or password" in response.text


def test_a_user_code_works_once(server):
    started = start(server)
    page = server.get("/device")
    confirm = server.post(
        "/device",
        data={
            **hidden_fields(page.text),
            "user_code": started["user_code"],
            "username": "alice",
            "password": "correct horse battery staple",
        },
    )
    fields = hidden_fields(confirm.text)
    assert server.post("/device/confirm", data={**fields, "action": "approve"}).status_code == 200
    again = server.post("/device/confirm", data={**fields, "action": "deny"})
    assert again.status_code == 400


def test_discovery_advertises_the_device_flow(server):
    metadata = server.get("/.well-known/openid-configuration").json()
    assert metadata["device_authorization_endpoint"] == "http://127.0.0.1:8000/device_authorization"
    assert GRANT in metadata["grant_types_supported"]
