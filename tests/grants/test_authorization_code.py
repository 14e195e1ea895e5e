"""Authorization code flow in process: the pages, the code, and the token exchange."""

from __future__ import annotations

import time

import pytest

from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.oidc import OIDC_CONFIG, REDIRECT_URI, authorize_params, query_of, sign_in


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


def exchange(client, code, verifier, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **extra,
    }
    return client.post("/token", data=data, headers=basic_auth("web-app", "web-secret"))


def test_code_flow_issues_access_refresh_and_id_tokens(oidc):
    params = authorize_params()
    response = sign_in(oidc, params)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    answer = query_of(location)
    assert answer["state"] == "state-123"
    assert answer["iss"] == "http://127.0.0.1:8000"
    tokens = exchange(oidc, answer["code"], params["_verifier"])
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "id_token",
    }
    _, id_claims = decode_jwt_unverified(body["id_token"])
    assert id_claims["aud"] == "web-app"
    assert id_claims["nonce"] == "nonce-456"
    assert id_claims["given_name"] == "Alice"
    assert id_claims["email"] == "alice@example.test"
    assert "sid" in id_claims and "auth_time" in id_claims and "at_hash" in id_claims
    _, access = decode_jwt_unverified(body["access_token"])
    assert access["sub"] == id_claims["sub"]
    assert access["aud"] == ["https://api.example.test", "http://127.0.0.1:8000/userinfo"]


def test_code_is_single_use_and_replay_revokes_its_refresh_token(oidc):
    params = authorize_params()
    code = query_of(sign_in(oidc, params).headers["location"])["code"]
    first = exchange(oidc, code, params["_verifier"])
    assert first.status_code == 200
    replay = exchange(oidc, code, params["_verifier"])
    assert_oauth_error(replay, "invalid_grant", 400)
    refresh = oidc.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
        headers=basic_auth("web-app", "web-secret"),
    )
    assert_oauth_error(refresh, "invalid_grant", 400)


def test_pkce_mismatch_is_invalid_grant(oidc):
    params = authorize_params()
    code = query_of(sign_in(oidc, params).headers["location"])["code"]
    other_verifier = "x" * 43
    assert_oauth_error(exchange(oidc, code, other_verifier), "invalid_grant", 400)


def test_missing_code_verifier_is_invalid_grant(oidc):
    params = authorize_params()
    code = query_of(sign_in(oidc, params).headers["location"])["code"]
    response = oidc.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers=basic_auth("web-app", "web-secret"),
    )
    assert_oauth_error(response, "invalid_grant", 400)


def test_redirect_uri_must_match_at_the_token_endpoint(oidc):
    params = authorize_params()
    code = query_of(sign_in(oidc, params).headers["location"])["code"]
    response = exchange(oidc, code, params["_verifier"], redirect_uri="https://app.example.test/x")
    assert_oauth_error(response, "invalid_grant", 400)


def test_code_issued_to_one_client_cannot_be_redeemed_by_another(oidc):
    params = authorize_params()
    code = query_of(sign_in(oidc, params).headers["location"])["code"]
    response = oidc.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": params["_verifier"],
        },
        headers=basic_auth("legacy", "legacy-secret"),
    )
    assert_oauth_error(response, "unauthorized_client", 400)


def test_unknown_code_is_invalid_grant(oidc):
    assert_oauth_error(exchange(oidc, "nope", "x" * 43), "invalid_grant", 400)


def test_verifier_for_a_code_issued_without_a_challenge_is_refused(make_client):
    """RFC 9700 section 4.8 (PKCE downgrade): a client that opted out of PKCE got a code
    without code_challenge; an attacker adding a code_verifier must not make it look protected."""
    web_app = {**OIDC_CONFIG["clients"][0], "require_pkce": False}
    client = make_client(**{**OIDC_CONFIG, "clients": [web_app, *OIDC_CONFIG["clients"][1:]]})
    params = authorize_params()
    del params["code_challenge"], params["code_challenge_method"]
    code = query_of(sign_in(client, params).headers["location"])["code"]
    body = assert_oauth_error(exchange(client, code, params["_verifier"]), "invalid_grant", 400)
    assert "without code_challenge" in body["error_description"]


def test_expired_code_is_invalid_grant(make_client):
    """Codes are short-lived (60 s by default, RFC 6749 section 4.1.2 says 10 min at most)."""
    client = make_client(**OIDC_CONFIG, authorization_code_lifetime=1)
    params = authorize_params()
    code = query_of(sign_in(client, params).headers["location"])["code"]
    time.sleep(1.2)
    body = assert_oauth_error(exchange(client, code, params["_verifier"]), "invalid_grant", 400)
    assert "expired" in body["error_description"]


def test_default_code_lifetime_is_60_seconds(make_settings):
    assert make_settings().authorization_code_lifetime == 60
