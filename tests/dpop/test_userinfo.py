"""DPoP at userinfo (RFC 9449 section 7): bound tokens need the scheme, the key and ath."""

from __future__ import annotations

import pytest

from tests.dpop.conftest import DPOP_CONFIG, TOKEN_URL, USERINFO_URL, password_form
from tests.dpop.proofs import make_proof, new_key
from tests.helpers import basic_auth

LEGACY = basic_auth("legacy", "legacy-secret")


def bound_token(server, key):
    headers = {"DPoP": make_proof(key, "POST", TOKEN_URL), **LEGACY}
    body = server.post("/token", data=password_form(), headers=headers).json()
    assert body["token_type"] == "DPoP"
    return body["access_token"]


def dpop_headers(key, token, method="GET", **claims):
    proof = make_proof(key, method, USERINFO_URL, access_token=token, **claims)
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def assert_dpop_challenge(response, error, status=401):
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('DPoP algs="ES256'), challenge
    assert f'error="{error}"' in challenge


def test_a_bound_token_with_a_proof_by_its_key_gets_the_claims(server):
    key = new_key()
    token = bound_token(server, key)
    for method in ("GET", "POST"):
        response = server.request(method, "/userinfo", headers=dpop_headers(key, token, method))
        assert response.status_code == 200, response.text
        assert response.json()["given_name"] == "Alice"


def test_a_bound_token_sent_as_bearer_is_refused(server):
    token = bound_token(server, new_key())
    response = server.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert_dpop_challenge(response, "invalid_token")
    form = server.post("/userinfo", data={"access_token": token})
    assert_dpop_challenge(form, "invalid_token")


def test_a_proof_from_another_key_is_refused(server):
    token = bound_token(server, new_key())
    response = server.get("/userinfo", headers=dpop_headers(new_key(), token))
    assert_dpop_challenge(response, "invalid_token")


def test_a_replayed_proof_is_refused(server):
    key = new_key()
    token = bound_token(server, key)
    headers = dpop_headers(key, token)
    assert server.get("/userinfo", headers=headers).status_code == 200
    assert_dpop_challenge(server.get("/userinfo", headers=headers), "invalid_dpop_proof")


@pytest.mark.parametrize(
    "claims",
    [{"ath": "wrong"}, {"htm": "POST"}, {"htu": TOKEN_URL}, {"iat": 1}],
)
def test_a_bad_proof_is_invalid_dpop_proof(server, claims):
    key = new_key()
    token = bound_token(server, key)
    response = server.get("/userinfo", headers=dpop_headers(key, token, **claims))
    assert_dpop_challenge(response, "invalid_dpop_proof")


def test_a_proof_without_ath_is_refused(server):
    key = new_key()
    token = bound_token(server, key)
    headers = {"Authorization": f"DPoP {token}", "DPoP": make_proof(key, "GET", USERINFO_URL)}
    assert_dpop_challenge(server.get("/userinfo", headers=headers), "invalid_dpop_proof")


def test_the_dpop_scheme_needs_a_proof_and_a_bound_token(server):
    key = new_key()
    token = bound_token(server, key)
    no_proof = server.get("/userinfo", headers={"Authorization": f"DPoP {token}"})
    assert_dpop_challenge(no_proof, "invalid_dpop_proof")
    plain = server.post("/token", data=password_form(), headers=LEGACY).json()["access_token"]
    unbound = server.get("/userinfo", headers=dpop_headers(key, plain))
    assert_dpop_challenge(unbound, "invalid_token")


def test_an_unbound_token_still_works_as_bearer(server):
    plain = server.post("/token", data=password_form(), headers=LEGACY).json()["access_token"]
    response = server.get("/userinfo", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200


def test_userinfo_asks_for_its_nonce_and_hands_out_fresh_ones(make_client):
    server = make_client(**DPOP_CONFIG, dpop_require_nonce=True)
    key = new_key()
    first = server.post(
        "/token",
        data=password_form(),
        headers={"DPoP": make_proof(key, "POST", TOKEN_URL), **LEGACY},
    )
    nonce = first.headers["DPoP-Nonce"]
    token_response = server.post(
        "/token",
        data=password_form(),
        headers={"DPoP": make_proof(key, "POST", TOKEN_URL, nonce=nonce), **LEGACY},
    )
    token = token_response.json()["access_token"]
    asked = server.get("/userinfo", headers=dpop_headers(key, token))
    assert_dpop_challenge(asked, "use_dpop_nonce")
    nonce = asked.headers["DPoP-Nonce"]
    answered = server.get("/userinfo", headers=dpop_headers(key, token, nonce=nonce))
    assert answered.status_code == 200, answered.text
    assert answered.headers["DPoP-Nonce"]
