"""A NUL where the database keeps text: a 400, on SQLite and PostgreSQL alike, never a 500.

PostgreSQL's text cannot hold a NUL (SQLSTATE 22021), and a client can send one
in any field that is looked up: a client_id, a username, a resource.
"""

from __future__ import annotations

import base64

import pytest

from tests.helpers import assert_oauth_error, basic_auth
from tests.oidc import OIDC_CONFIG


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "client_credentials", "client_id": "\x00web", "client_secret": "x"},
        {"grant_type": "client_credentials", "client_id": "web-app\x00", "client_secret": "x"},
        {"grant_type": "refresh_token", "refresh_token": "\x00" * 55},
        {"grant_type": "password", "username": "\x00alice", "password": "x"},
    ],
)
def test_a_nul_in_a_token_request_s_form_is_invalid_request(oidc, data):
    headers = {} if "client_id" in data else basic_auth("web-app", "web-secret")
    assert_oauth_error(oidc.post("/token", data=data, headers=headers), "invalid_request", 400)


@pytest.mark.parametrize("credentials", ["\x00web:secret", "web-app:%00", "web%00:secret"])
def test_a_nul_in_basic_credentials_is_invalid_client(oidc, credentials):
    encoded = base64.b64encode(credentials.encode()).decode()
    response = oidc.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {encoded}"},
    )
    assert_oauth_error(response, "invalid_client", 401)


def test_a_nul_in_an_authorization_request_s_client_id_is_a_400(oidc):
    """The query string is not a form: the database's refusal is answered as the request's fault."""
    response = oidc.get(
        "/authorize",
        params={"client_id": "\x00x", "response_type": "code", "redirect_uri": "https://x"},
    )
    assert response.status_code == 400, response.text
