"""refresh_token: rotation, reuse detection, lifetimes, scope narrowing, new id_token."""

from __future__ import annotations

import time

import pytest

from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.oidc import OIDC_CONFIG, REDIRECT_URI, authorize_params, query_of, sign_in
from tokensmith.models.grant import ISSUED_HANDLE

WEB = basic_auth("web-app", "web-secret")


def first_tokens(client, **params):
    flow = authorize_params(**params)
    code = query_of(sign_in(client, flow).headers["location"])["code"]
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=WEB,
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh(client, token, **extra):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token, **extra},
        headers=WEB,
    )


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


def test_refresh_rotates_and_returns_a_new_id_token(oidc):
    tokens = first_tokens(oidc)
    response = refresh(oidc, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    _, old_id = decode_jwt_unverified(tokens["id_token"])
    _, new_id = decode_jwt_unverified(body["id_token"])
    assert new_id["sub"] == old_id["sub"]
    assert new_id["auth_time"] == old_id["auth_time"]
    assert "nonce" not in new_id  # OIDC Core 12.2: no nonce on refresh


def test_codes_and_refresh_tokens_are_issued_handles(oidc):
    """They start with their issue time, so their rows go in at the end of the key index."""
    flow = authorize_params()
    code = query_of(sign_in(oidc, flow).headers["location"])["code"]
    assert ISSUED_HANDLE.fullmatch(code)
    tokens = first_tokens(oidc)
    rotated = refresh(oidc, tokens["refresh_token"]).json()["refresh_token"]
    assert ISSUED_HANDLE.fullmatch(tokens["refresh_token"])
    assert ISSUED_HANDLE.fullmatch(rotated)


@pytest.mark.parametrize("token", ["%" * 55, "0123456789ab" + "!" * 43, "0123456789ab" + "é" * 43])
def test_a_refresh_token_of_a_handle_s_length_with_odd_characters_is_invalid_grant(oidc, token):
    """Its characters never reach the stored key (a NUL is refused before: a 400
    invalid_request, tests/endpoints/test_unstorable_characters.py)."""
    assert_oauth_error(refresh(oidc, token), "invalid_grant", 400)


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(oidc):
    tokens = first_tokens(oidc)
    newer = refresh(oidc, tokens["refresh_token"]).json()["refresh_token"]
    assert_oauth_error(refresh(oidc, tokens["refresh_token"]), "invalid_grant", 400)
    assert_oauth_error(refresh(oidc, newer), "invalid_grant", 400)


def test_refresh_may_narrow_scope_but_not_widen_it(oidc):
    tokens = first_tokens(oidc)
    narrowed = refresh(oidc, tokens["refresh_token"], scope="openid api:read")
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "openid api:read"
    widened = refresh(oidc, narrowed.json()["refresh_token"], scope="openid api:write")
    assert_oauth_error(widened, "invalid_scope", 400)


def test_no_refresh_token_without_offline_access(oidc):
    tokens = first_tokens(oidc, scope="openid profile")
    assert "refresh_token" not in tokens


def test_refresh_token_of_another_client_is_invalid_grant(oidc):
    tokens = first_tokens(oidc)
    response = oidc.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic_auth("legacy", "legacy-secret"),
    )
    assert_oauth_error(response, "invalid_grant", 400)


def test_absolute_lifetime_ends_the_family(make_client):
    client = make_client(
        **OIDC_CONFIG, refresh_token_absolute_lifetime=2, refresh_token_sliding_lifetime=60
    )
    tokens = first_tokens(client)
    second = refresh(client, tokens["refresh_token"])
    assert second.status_code == 200
    time.sleep(2.2)
    assert_oauth_error(refresh(client, second.json()["refresh_token"]), "invalid_grant", 400)


def test_sliding_lifetime_expires_an_unused_token(make_client):
    client = make_client(**OIDC_CONFIG, refresh_token_sliding_lifetime=1)
    tokens = first_tokens(client)
    time.sleep(1.2)
    assert_oauth_error(refresh(client, tokens["refresh_token"]), "invalid_grant", 400)


def test_without_rotation_the_same_refresh_token_keeps_working(make_client):
    config = {**OIDC_CONFIG}
    config["clients"] = [
        {**OIDC_CONFIG["clients"][0], "refresh_token_rotation": False},
        *OIDC_CONFIG["clients"][1:],
    ]
    client = make_client(**config)
    tokens = first_tokens(client)
    for _ in range(3):
        response = refresh(client, tokens["refresh_token"])
        assert response.status_code == 200
        assert response.json()["refresh_token"] == tokens["refresh_token"]


def test_missing_refresh_token_is_invalid_request(oidc):
    response = oidc.post("/token", data={"grant_type": "refresh_token"}, headers=WEB)
    assert_oauth_error(response, "invalid_request", 400)
