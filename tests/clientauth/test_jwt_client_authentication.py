"""private_key_jwt and client_secret_jwt on the in-process app (RFC 7523 2.2 and 3, OIDC Core 9).

Every refusal is ``invalid_client`` with 401 (RFC 7521 section 4.2.1), and a
refused assertion is not used up: the same client then succeeds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import jwt as pyjwt
import pytest
from starlette.testclient import TestClient

from tests.clientauth.assertions import (
    CLIENT_ASSERTION_TYPE,
    ISSUER,
    JWT_CLIENTS,
    OTHER_RSA_KEY,
    RSA_KEY,
    SHORT_HMAC_SECRET,
    TOKEN_URL,
    assertion_form,
    claims_for,
    shared_app,
    sign,
)
from tests.conftest import BASE_CONFIG
from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified

SIGNING_APP = "signing-app"
HMAC_APP = "hmac-app"


DEVICE_CLIENT = {
    **JWT_CLIENTS[0],
    "client_id": "tv-app",
    "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[TestClient]:
    clients = [*BASE_CONFIG["clients"], *JWT_CLIENTS, DEVICE_CLIENT]
    with shared_app(tmp_path_factory.mktemp("data"), clients=clients) as client:
        yield client


def token(server, assertion: str, **extra: str):
    return server.post("/token", data=assertion_form(assertion, **extra))


def refused(response, detail: str) -> None:
    body = assert_oauth_error(response, "invalid_client", 401)
    assert detail in body["error_description"], body


def assert_issued_to(response, client_id: str) -> None:
    assert response.status_code == 200, response.text
    assert decode_jwt_unverified(response.json()["access_token"])[1]["client_id"] == client_id


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_private_key_jwt_client_gets_a_token(server, alg):
    response = token(server, sign(claims_for(SIGNING_APP), alg))
    assert_issued_to(response, SIGNING_APP)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_client_secret_jwt_client_gets_a_token(server, alg):
    response = token(server, sign(claims_for(HMAC_APP), alg))
    assert_issued_to(response, HMAC_APP)


def test_client_id_in_the_form_may_repeat_the_subject(server):
    assertion = sign(claims_for(SIGNING_APP), "ES256")
    assert_issued_to(token(server, assertion, client_id=SIGNING_APP), SIGNING_APP)


@pytest.mark.parametrize("audience", [ISSUER, [TOKEN_URL, "https://elsewhere.example"]])
def test_issuer_or_a_list_naming_the_token_endpoint_is_a_valid_audience(server, audience):
    response = token(server, sign(claims_for(SIGNING_APP, audience=audience), "ES256"))
    assert_issued_to(response, SIGNING_APP)


def test_replayed_assertion_is_refused(server):
    assertion = sign(claims_for(SIGNING_APP), "RS256")
    assert_issued_to(token(server, assertion), SIGNING_APP)
    refused(token(server, assertion), "already used")


def test_replayed_hmac_assertion_is_refused(server):
    assertion = sign(claims_for(HMAC_APP), "HS256")
    assert_issued_to(token(server, assertion), HMAC_APP)
    refused(token(server, assertion), "already used")


def test_jti_is_per_client(server):
    shared = {"jti": "same-id-for-both"}
    assert_issued_to(token(server, sign(claims_for(SIGNING_APP, **shared), "ES256")), SIGNING_APP)
    assert_issued_to(token(server, sign(claims_for(HMAC_APP, **shared), "HS256")), HMAC_APP)


@pytest.mark.parametrize(
    "audience",
    [
        "https://other-server.example/token",
        f"{ISSUER}/authorize",
        f"{ISSUER}/token/",
        ["https://other-server.example"],
        None,
    ],
)
def test_wrong_audience_is_refused(server, audience):
    response = token(server, sign(claims_for(SIGNING_APP, audience=audience), "ES256"))
    refused(response, "aud does not name this server")


def test_expired_assertion_is_refused(server):
    now = int(time.time())
    claims = claims_for(SIGNING_APP, iat=now - 600, exp=now - 300)
    refused(token(server, sign(claims, "ES256")), "expired")


def test_expired_hmac_assertion_is_refused(server):
    now = int(time.time())
    claims = claims_for(HMAC_APP, iat=now - 600, exp=now - 300)
    refused(token(server, sign(claims, "HS256")), "expired")


def test_assertion_living_too_long_is_refused(server):
    # Authlib's default is an hour; the server's default limit is ten minutes.
    claims = claims_for(SIGNING_APP, exp=int(time.time()) + 3600)
    refused(token(server, sign(claims, "ES256")), "lives longer than 600 seconds")


def test_long_lived_assertion_is_accepted_when_the_limit_allows(make_client):
    server = make_client(
        clients=[*BASE_CONFIG["clients"], *JWT_CLIENTS], client_assertion_max_lifetime=3600
    )
    claims = claims_for(SIGNING_APP, exp=int(time.time()) + 3600)
    assert_issued_to(token(server, sign(claims, "ES256")), SIGNING_APP)


def test_assertion_issued_long_ago_is_refused_even_if_exp_is_near(server):
    now = int(time.time())
    claims = claims_for(SIGNING_APP, iat=now - 3000, exp=now + 60)
    refused(token(server, sign(claims, "ES256")), "lives longer than")


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"exp": None}, "no valid exp"),
        ({"exp": "tomorrow"}, "no valid exp"),
        ({"jti": None}, "no jti"),
        ({"jti": ""}, "no jti"),
        ({"iat": int(time.time()) + 3600}, "iat"),
        ({"nbf": int(time.time()) + 300}, "nbf"),
    ],
)
def test_missing_or_insane_times_and_jti_are_refused(server, changes, detail):
    refused(token(server, sign(claims_for(SIGNING_APP, **changes), "ES256")), detail)


def test_alg_none_is_refused(server):
    refused(token(server, sign(claims_for(SIGNING_APP), "none")), "alg none is not allowed")


def test_alg_the_client_did_not_register_is_refused(server):
    # ps256-only-app holds the same RSA key, but registered PS256 alone.
    claims = claims_for("ps256-only-app")
    refused(token(server, sign(claims, "RS256")), "alg RS256 is not allowed")
    assert_issued_to(token(server, sign(claims_for("ps256-only-app"), "PS256")), "ps256-only-app")


def test_hmac_assertion_for_a_private_key_client_is_refused(server):
    # The classic confusion: HMAC keyed with something public. The method is
    # chosen by alg, and this client registered private_key_jwt.
    assertion = sign(claims_for(SIGNING_APP), "HS256", key="rsa-1-public-key-material-x" * 2)
    assert_oauth_error(token(server, assertion), "invalid_client", 401)


def test_asymmetric_assertion_for_a_secret_client_is_refused(server):
    assert_oauth_error(token(server, sign(claims_for(HMAC_APP), "RS256")), "invalid_client", 401)


def test_assertion_signed_by_another_key_is_refused(server):
    assertion = sign(claims_for(SIGNING_APP), "RS256", key=OTHER_RSA_KEY, kid="rsa-1")
    refused(token(server, assertion), "signature does not verify")


def test_assertion_signed_with_another_secret_is_refused(server):
    assertion = sign(claims_for(HMAC_APP), "HS256", key="not-the-secret-but-as-long-" * 3)
    refused(token(server, assertion), "signature does not verify")


def test_unknown_kid_is_refused(server):
    assertion = sign(claims_for(SIGNING_APP), "RS256", kid="rsa-9")
    refused(token(server, assertion), "no key of the client verifies RS256 with this kid")


def test_missing_kid_is_accepted_when_one_key_fits(server):
    unkeyed = pyjwt.encode(claims_for(SIGNING_APP), RSA_KEY, algorithm="RS256")
    assert_issued_to(token(server, unkeyed), SIGNING_APP)


def test_hmac_secret_shorter_than_the_hash_is_refused(server):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about the short key, as it should
        assertion = sign(claims_for("short-hmac-app"), "HS384", key=SHORT_HMAC_SECRET)
    refused(token(server, assertion), "too short for HS384")
    good = sign(claims_for("short-hmac-app"), "HS256", key=SHORT_HMAC_SECRET)
    assert_issued_to(token(server, good), "short-hmac-app")


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"iss": "hmac-app"}, "iss must be the client_id"),
        ({"iss": None}, "iss must be the client_id"),
        ({"sub": "someone-else"}, "sub must be the client_id"),
    ],
)
def test_iss_and_sub_must_both_be_the_client_id(server, changes, detail):
    claims = claims_for(SIGNING_APP, **changes)
    response = token(server, sign(claims, "ES256"), client_id=SIGNING_APP)
    refused(response, detail)


def test_subject_names_the_client_when_the_form_does_not(server):
    # sub names a client that does not hold the key: refused, whatever iss says.
    claims = claims_for(HMAC_APP, iss=SIGNING_APP)
    assert_oauth_error(token(server, sign(claims, "ES256")), "invalid_client", 401)


def test_form_client_id_must_match_the_assertion(server):
    response = token(server, sign(claims_for(SIGNING_APP), "ES256"), client_id=HMAC_APP)
    assert_oauth_error(response, "invalid_client", 401)


def test_unknown_client_is_refused(server):
    response = token(server, sign(claims_for("nobody"), "ES256"))
    refused(response, "client authentication failed")


def test_secret_client_cannot_switch_to_an_assertion(server):
    # orders-service registered client_secret_basic; the method must match.
    response = token(server, sign(claims_for("orders-service"), "HS256", key="s3cret-" * 8))
    refused(response, "client authentication failed")


def test_assertion_and_basic_credentials_together_are_invalid_request(server):
    response = server.post(
        "/token",
        data=assertion_form(sign(claims_for(SIGNING_APP), "ES256")),
        headers=basic_auth("orders-service", "s3cret-from-a-vault"),
    )
    assert_oauth_error(response, "invalid_request", 400)


@pytest.mark.parametrize(
    "form",
    [
        {"client_assertion_type": CLIENT_ASSERTION_TYPE},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": "not-a-jwt"},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": "a.b.c"},
        {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": "é.é.é"},
        {"client_assertion_type": "urn:example:saml", "client_assertion": "x"},
        {"client_assertion": "x", "client_id": SIGNING_APP},
    ],
)
def test_malformed_client_assertions_are_invalid_client_not_500(server, form):
    response = server.post("/token", data={"grant_type": "client_credentials", **form})
    assert_oauth_error(response, "invalid_client", 401)


def test_assertion_payload_that_is_not_a_claim_set_is_refused(server):
    assertion = pyjwt.api_jws.encode(b"[1, 2]", RSA_KEY, algorithm="RS256")
    refused(token(server, assertion), "not a claim set")


def test_refused_assertion_is_not_used_up(server):
    claims = claims_for(SIGNING_APP)
    refused(token(server, sign(claims, "RS256", key=OTHER_RSA_KEY)), "signature")
    assert_issued_to(token(server, sign(claims, "RS256")), SIGNING_APP)


def test_revocation_accepts_an_assertion_for_its_own_url(server):
    claims = claims_for(SIGNING_APP, audience=f"{ISSUER}/revoke")
    form = {
        "token": "unknown-token",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": sign(claims, "ES256"),
    }
    assert server.post("/revoke", data=form).status_code == 200
    # Spent at /revoke, it cannot be spent again at /token either.
    refused(token(server, form["client_assertion"]), "already used")


def test_revocation_refuses_a_bad_assertion(server):
    form = {
        "token": "unknown-token",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": sign(claims_for(SIGNING_APP), "RS256", key=OTHER_RSA_KEY),
    }
    assert_oauth_error(server.post("/revoke", data=form), "invalid_client", 401)


def test_discovery_advertises_the_methods_and_their_algorithms(server):
    metadata: dict[str, Any] = server.get("/.well-known/openid-configuration").json()
    for method in ("private_key_jwt", "client_secret_jwt"):
        assert method in metadata["token_endpoint_auth_methods_supported"]
        assert method in metadata["introspection_endpoint_auth_methods_supported"]
        assert method in metadata["revocation_endpoint_auth_methods_supported"]
    expected = ["ES256", "Ed25519", "EdDSA", "HS256", "HS384", "HS512", "PS256", "RS256"]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == expected
    assert metadata["introspection_endpoint_auth_signing_alg_values_supported"] == expected
    assert metadata["revocation_endpoint_auth_signing_alg_values_supported"] == expected
    assert "none" not in expected


def test_device_authorization_accepts_an_assertion_for_its_own_url(server):
    claims = claims_for("tv-app", audience=f"{ISSUER}/device_authorization")
    form = {
        "scope": "api:read",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": sign(claims, "EdDSA"),
    }
    response = server.post("/device_authorization", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["device_code"]


def test_replay_to_another_server_process_is_refused(make_client):
    # Two apps on one database (and one Redis, when the suite uses it) stand
    # for two processes or hosts: the used jti is shared state, not memory.
    clients = [*BASE_CONFIG["clients"], *JWT_CLIENTS]
    first, second = make_client(clients=clients), make_client(clients=clients)
    assertion = sign(claims_for(SIGNING_APP), "ES256")
    assert_issued_to(token(first, assertion), SIGNING_APP)
    refused(token(second, assertion), "already used")
