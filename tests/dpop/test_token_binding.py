"""DPoP at the token endpoint (RFC 9449 section 5): binding, refusals, refresh tokens."""

from __future__ import annotations

import pytest

from tests.conftest import AUDIENCE
from tests.dpop.conftest import DPOP_CONFIG, TOKEN_URL, password_form
from tests.dpop.proofs import make_proof, new_key
from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified

LEGACY = basic_auth("legacy", "legacy-secret")
MACHINE = basic_auth("machine", "machine-secret")


def proof_headers(key, auth=None, **claims):
    return {"DPoP": make_proof(key, "POST", TOKEN_URL, **claims), **(auth or {})}


def introspect(server, token, auth=LEGACY, **form):
    return server.post("/introspect", data={"token": token, **form}, headers=auth).json()


def test_client_credentials_with_a_proof_gives_a_bound_jwt(server):
    key = new_key()
    response = server.post(
        "/token",
        data={"grant_type": "client_credentials", "resource": AUDIENCE},
        headers=proof_headers(key, MACHINE),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    _, claims = decode_jwt_unverified(body["access_token"])
    assert claims["cnf"] == {"jkt": key.thumbprint()}
    answer = introspect(server, body["access_token"], MACHINE)
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.thumbprint()}


def test_without_a_proof_the_token_is_a_plain_bearer_token(server):
    response = server.post("/token", data={"grant_type": "client_credentials"}, headers=MACHINE)
    body = response.json()
    assert body["token_type"] == "Bearer"
    answer = introspect(server, body["access_token"], MACHINE)
    assert answer["token_type"] == "Bearer"
    assert "cnf" not in answer


def test_an_opaque_token_record_carries_cnf_for_introspection(server):
    key = new_key()
    body = server.post("/token", data=password_form(), headers=proof_headers(key, LEGACY)).json()
    assert body["token_type"] == "DPoP"
    assert body["access_token"].count(".") == 0  # no resource: an opaque token
    answer = introspect(server, body["access_token"])
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.thumbprint()}


def test_a_client_registered_for_dpop_must_send_a_proof(server):
    auth = basic_auth("dpop-machine", "dpop-machine-secret")
    refused = server.post("/token", data={"grant_type": "client_credentials"}, headers=auth)
    assert_oauth_error(refused, "invalid_dpop_proof", 400)
    accepted = server.post(
        "/token", data={"grant_type": "client_credentials"}, headers=proof_headers(new_key(), auth)
    )
    assert accepted.json()["token_type"] == "DPoP"


@pytest.mark.parametrize(
    "claims",
    [
        {"htm": "GET"},
        {"htu": "http://127.0.0.1:8000/userinfo"},
        {"htu": "http://evil.example.test/token"},
        {"iat": 1},
    ],
)
def test_a_bad_proof_is_invalid_dpop_proof(server, claims):
    response = server.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=proof_headers(new_key(), MACHINE, **claims),
    )
    assert_oauth_error(response, "invalid_dpop_proof", 400)


def test_the_host_header_does_not_change_the_expected_htu(server):
    key = new_key()
    headers = {
        "DPoP": make_proof(key, "POST", "http://evil.example.test/token"),
        "Host": "evil.example.test",
        **MACHINE,
    }
    response = server.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert_oauth_error(response, "invalid_dpop_proof", 400)


def test_a_replayed_proof_is_refused_at_the_token_endpoint(server):
    headers = proof_headers(new_key(), MACHINE)
    first = server.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert first.status_code == 200
    again = server.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert_oauth_error(again, "invalid_dpop_proof", 400)


def test_a_public_clients_refresh_token_is_bound_to_the_key(server):
    key = new_key()
    form = password_form("public-app")
    body = server.post("/token", data=form, headers=proof_headers(key)).json()
    refresh = body["refresh_token"]
    assert introspect(server, refresh, {}, client_id="public-app")["cnf"] == {
        "jkt": key.thumbprint()
    }
    refresh_form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": "public-app",
    }
    # Without a proof, or with another key's: refused, and the token is not used up.
    assert_oauth_error(server.post("/token", data=refresh_form), "invalid_grant", 400)
    other = server.post("/token", data=refresh_form, headers=proof_headers(new_key()))
    assert_oauth_error(other, "invalid_grant", 400)
    renewed = server.post("/token", data=refresh_form, headers=proof_headers(key))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["token_type"] == "DPoP"
    next_refresh = renewed.json()["refresh_token"]
    assert introspect(server, next_refresh, {}, client_id="public-app")["cnf"] == {
        "jkt": key.thumbprint()
    }


def test_a_confidential_clients_refresh_token_is_not_bound(server):
    first_key, second_key = new_key(), new_key()
    body = server.post("/token", data=password_form(), headers=proof_headers(first_key, LEGACY))
    refresh = body.json()["refresh_token"]
    assert "cnf" not in introspect(server, refresh)
    refresh_form = {"grant_type": "refresh_token", "refresh_token": refresh}
    renewed = server.post("/token", data=refresh_form, headers=proof_headers(second_key, LEGACY))
    assert renewed.status_code == 200, renewed.text
    answer = introspect(server, renewed.json()["access_token"])
    assert answer["cnf"] == {"jkt": second_key.thumbprint()}


def test_use_dpop_nonce_then_a_fresh_nonce_in_every_response(make_client):
    server = make_client(**DPOP_CONFIG, dpop_require_nonce=True)
    key = new_key()
    form = {"grant_type": "client_credentials"}
    first = server.post("/token", data=form, headers=proof_headers(key, MACHINE))
    assert_oauth_error(first, "use_dpop_nonce", 400)
    nonce = first.headers["DPoP-Nonce"]
    second = server.post("/token", data=form, headers=proof_headers(key, MACHINE, nonce=nonce))
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP"
    assert second.headers["DPoP-Nonce"]
    wrong = server.post("/token", data=form, headers=proof_headers(key, MACHINE, nonce="nope"))
    assert_oauth_error(wrong, "use_dpop_nonce", 400)


def test_discovery_lists_the_dpop_algorithms(server):
    metadata = server.get("/.well-known/openid-configuration").json()
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    assert not {"none", "HS256"} & set(metadata["dpop_signing_alg_values_supported"])
