"""JWT bearer (RFC 7523): a trusted issuer's assertion for a user, checked by section 3."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey
from pydantic import ValidationError

from tests.conftest import AUDIENCE
from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.oidc import ALICE_PASSWORD, OIDC_CONFIG

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ISSUER = "http://127.0.0.1:8000"
PARTNER = "https://idp.partner.example"
FEDERATION = "https://federation.example"
PARTNER_KEY = ECKey.generate_key("P-256", auto_kid=True)
FEDERATION_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FEDERATION_KID = "federation-1"

PARTNER_APP = basic_auth("partner-app", "partner-app-secret")
LEGACY = basic_auth("legacy", "legacy-secret")


def _public_rsa_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid}


CONFIG: dict[str, Any] = {
    **OIDC_CONFIG,
    "clients": [
        *OIDC_CONFIG["clients"],
        {
            "client_id": "partner-app",
            "client_secret": "partner-app-secret",
            "grant_types": [JWT_BEARER],
            "scopes": ["openid", "profile", "api:read"],
        },
    ],
    "trusted_issuers": [
        {"issuer": PARTNER, "jwks": {"keys": [PARTNER_KEY.as_dict(private=False)]}},
        {
            "issuer": FEDERATION,
            "jwks": {"keys": [_public_rsa_jwk(FEDERATION_KEY, FEDERATION_KID)]},
            "algorithms": ["RS256"],
            "allow_unknown_subjects": True,
        },
    ],
}


@pytest.fixture
def server(make_client):
    return make_client(**CONFIG)


@pytest.fixture
def alice(server) -> str:
    """Alice's subject id, read from a token the password grant gives her."""
    form = {"grant_type": "password", "username": "alice", "password": ALICE_PASSWORD}
    response = server.post("/token", data={**form, "scope": "api:read"}, headers=LEGACY)
    return decode_jwt_unverified(response.json()["access_token"])[1]["sub"]


def claims_for(subject: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": PARTNER,
        "sub": subject,
        "aud": f"{ISSUER}/token",
        "exp": now + 300,
        "iat": now,
        "jti": secrets.token_urlsafe(12),
        **changes,
    }
    return {name: value for name, value in claims.items() if value is not None}


def partner_assertion(subject: str, key: ECKey = PARTNER_KEY, **changes: Any) -> str:
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims_for(subject, **changes), key)


def federation_assertion(subject: str, **changes: Any) -> str:
    claims = claims_for(subject, iss=FEDERATION, aud=ISSUER, **changes)
    return pyjwt.encode(claims, FEDERATION_KEY, algorithm="RS256", headers={"kid": FEDERATION_KID})


def grant(server, assertion: str, headers=PARTNER_APP, **form):
    data = {"grant_type": JWT_BEARER, "assertion": assertion, **form}
    return server.post("/token", data=data, headers=headers)


def test_assertion_for_a_user_gets_a_token_for_that_user(server, alice):
    response = grant(server, partner_assertion(alice), scope="api:read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "api:read"
    assert "refresh_token" not in body
    assert "issued_token_type" not in body
    _, claims = decode_jwt_unverified(body["access_token"])
    assert claims["sub"] == alice
    assert claims["aud"] == AUDIENCE
    assert claims["client_id"] == "partner-app"
    assert claims["scope"] == "api:read"


def test_user_assertion_may_get_identity_scopes_for_userinfo(server, alice):
    body = grant(server, partner_assertion(alice), scope="openid profile").json()
    userinfo = server.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.json()["given_name"] == "Alice"


def test_unknown_subject_is_refused_unless_the_issuer_allows_it(server):
    refused = grant(server, partner_assertion("someone-else"))
    assert_oauth_error(refused, "invalid_grant", 400)
    response = grant(server, federation_assertion("fed-user-42"), scope="api:read")
    assert response.status_code == 200, response.text
    assert decode_jwt_unverified(response.json()["access_token"])[1]["sub"] == "fed-user-42"


def test_external_subject_gets_no_identity_scopes(server):
    response = grant(server, federation_assertion("fed-user-42"), scope="openid api:read")
    assert_oauth_error(response, "invalid_scope", 400)


def test_audience_may_be_the_issuer_or_the_token_endpoint_in_a_list(server, alice):
    for aud in (ISSUER, [f"{ISSUER}/token", "https://elsewhere.example"]):
        assert grant(server, partner_assertion(alice, aud=aud)).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "https://another-as.example/token"},
        {"aud": None},
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"exp": "tomorrow"},
        {"exp": int(time.time()) + 7 * 24 * 3600},
        {"nbf": int(time.time()) + 3600},
        {"iat": int(time.time()) + 3600},
        {"sub": None},
        {"jti": None},
        {"iss": "https://evil.example"},
    ],
    ids=[
        "wrong-audience",
        "no-audience",
        "expired",
        "no-exp",
        "exp-not-a-number",
        "exp-too-far",
        "not-yet-valid",
        "issued-in-the-future",
        "no-sub",
        "no-jti",
        "untrusted-issuer",
    ],
)
def test_assertion_failing_a_section_3_check_is_invalid_grant(server, alice, changes):
    assert_oauth_error(grant(server, partner_assertion(alice, **changes)), "invalid_grant", 400)


def test_wrong_signature_is_invalid_grant(server, alice):
    impostor = ECKey.generate_key("P-256", parameters={"kid": PARTNER_KEY.kid})
    assert_oauth_error(grant(server, partner_assertion(alice, key=impostor)), "invalid_grant", 400)
    header, _, signature = partner_assertion(alice).split(".")
    tampered = claims_for(alice, sub="bob")
    body = base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode().rstrip("=")
    assert_oauth_error(grant(server, f"{header}.{body}.{signature}"), "invalid_grant", 400)


def test_replayed_jti_is_invalid_grant(server, alice):
    assertion = partner_assertion(alice)
    assert grant(server, assertion).status_code == 200
    assert_oauth_error(grant(server, assertion), "invalid_grant", 400)
    again = partner_assertion(alice, jti=decode_jwt_unverified(assertion)[1]["jti"])
    assert_oauth_error(grant(server, again), "invalid_grant", 400)


def test_refused_request_does_not_use_up_the_assertion(server, alice):
    assertion = partner_assertion(alice)
    assert_oauth_error(grant(server, assertion, scope="api:write"), "invalid_scope", 400)
    assert grant(server, assertion).status_code == 200


def test_alg_none_is_invalid_grant(server, alice):
    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    unsigned = f"{segment({'alg': 'none'})}.{segment(claims_for(alice))}."
    assert_oauth_error(grant(server, unsigned), "invalid_grant", 400)


def test_hmac_signed_with_the_issuers_public_key_is_invalid_grant(server, alice):
    # The classic confusion: the public key's bytes used as an HMAC secret.
    public = json.dumps(PARTNER_KEY.as_dict(private=False)).encode()
    secret = OctKey.import_key(public)
    forged = jwt.encode({"alg": "HS256"}, claims_for(alice), secret, algorithms=["HS256"])
    assert_oauth_error(grant(server, forged), "invalid_grant", 400)


def test_garbage_assertion_is_invalid_grant(server):
    assert_oauth_error(grant(server, "not-a-jwt"), "invalid_grant", 400)


def test_missing_assertion_is_invalid_request(server):
    response = server.post("/token", data={"grant_type": JWT_BEARER}, headers=PARTNER_APP)
    assert_oauth_error(response, "invalid_request", 400)


def test_client_without_the_grant_type_is_unauthorized_client(server, alice):
    response = grant(server, partner_assertion(alice), headers=LEGACY)
    assert_oauth_error(response, "unauthorized_client", 400)


def test_discovery_lists_jwt_bearer(server):
    metadata = server.get("/.well-known/openid-configuration").json()
    assert JWT_BEARER in metadata["grant_types_supported"]


def test_trusted_issuer_keys_must_be_public_and_asymmetric(make_settings):
    private = ECKey.generate_key("P-256").as_dict(private=True)
    with pytest.raises(ValidationError, match="public keys only"):
        make_settings(trusted_issuers=[{"issuer": PARTNER, "jwks": {"keys": [private]}}])
    secret = OctKey.generate_key(256).as_dict(private=True)
    with pytest.raises(ValidationError, match="cannot verify"):
        make_settings(trusted_issuers=[{"issuer": PARTNER, "jwks": {"keys": [secret]}}])


def test_trusted_issuer_algorithms_must_fit_its_keys(make_settings):
    jwks = {"keys": [PARTNER_KEY.as_dict(private=False)]}
    for algorithms in (["HS256"], ["RS256"], ["none"]):
        with pytest.raises(ValidationError, match="do not fit"):
            make_settings(
                trusted_issuers=[{"issuer": PARTNER, "jwks": jwks, "algorithms": algorithms}]
            )
