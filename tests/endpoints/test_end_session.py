"""GET/POST /logout: RP-initiated logout ends the session."""

from __future__ import annotations

import pytest

from tests.helpers import basic_auth
from tests.oidc import (
    LOGOUT_URI,
    OIDC_CONFIG,
    REDIRECT_URI,
    authorize_params,
    hidden_fields,
    query_of,
    sign_in,
)


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


def signed_in_id_token(client) -> str:
    flow = authorize_params()
    code = query_of(sign_in(client, flow).headers["location"])["code"]
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=basic_auth("web-app", "web-secret"),
    )
    return response.json()["id_token"]


def confirm_logout(client, **params):
    page = client.get("/logout", params=params)
    assert page.status_code == 200
    return client.post(
        "/logout", data={**hidden_fields(page.text), "action": "logout"}, follow_redirects=False
    )


def silent_authorize(client):
    params = {k: v for k, v in authorize_params(prompt="none").items() if not k.startswith("_")}
    response = client.get("/authorize", params=params, follow_redirects=False)
    return query_of(response.headers["location"])


def test_logout_with_id_token_hint_redirects_to_the_registered_uri(oidc):
    id_token = signed_in_id_token(oidc)
    assert "code" in silent_authorize(oidc)
    response = confirm_logout(
        oidc, id_token_hint=id_token, post_logout_redirect_uri=LOGOUT_URI, state="bye"
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{LOGOUT_URI}?state=bye"
    assert silent_authorize(oidc)["error"] == "login_required"


def test_unregistered_post_logout_redirect_uri_is_not_followed(oidc):
    id_token = signed_in_id_token(oidc)
    response = confirm_logout(
        oidc, id_token_hint=id_token, post_logout_redirect_uri="https://evil.example.test/"
    )
    assert response.status_code == 200
    assert "signed out" in response.text
    assert silent_authorize(oidc)["error"] == "login_required"


def test_logout_without_csrf_token_is_refused_and_keeps_the_session(oidc):
    signed_in_id_token(oidc)
    response = oidc.post("/logout", data={"action": "logout"}, follow_redirects=False)
    assert response.status_code == 400
    assert "code" in silent_authorize(oidc)


def test_a_revoked_session_cookie_no_longer_works(oidc):
    signed_in_id_token(oidc)
    stolen = oidc.cookies["tokensmith_session"]
    confirm_logout(oidc)
    oidc.cookies.set("tokensmith_session", stolen)
    assert silent_authorize(oidc)["error"] == "login_required"
