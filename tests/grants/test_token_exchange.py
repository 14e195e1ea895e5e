"""token exchange (RFC 8693): impersonation, delegation (nested act), targets, policy refusals."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from pydantic import ValidationError

from tests.conftest import AUDIENCE
from tests.dpop.proofs import make_proof, new_key
from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.oidc import (
    ALICE_PASSWORD,
    OIDC_CONFIG,
    REDIRECT_URI,
    authorize_params,
    query_of,
    sign_in,
)

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TYPE = "urn:ietf:params:oauth:token-type:"
ISSUER = "http://127.0.0.1:8000"
BILLING = "https://billing.example.test"
PARTNER = "https://idp.partner.example"
PARTNER_KEY = ECKey.generate_key("P-256", auto_kid=True)

GATEWAY = basic_auth("gateway", "gateway-secret")
AGENT = basic_auth("agent", "agent-secret")
LEGACY = basic_auth("legacy", "legacy-secret")
WEB = basic_auth("web-app", "web-secret")
MACHINE = basic_auth("machine", "machine-secret")


def _client(client_id: str, grant_types: list[str], scopes: list[str], **more: Any) -> dict:
    return {
        "client_id": client_id,
        "client_secret": f"{client_id}-secret",
        "grant_types": grant_types,
        "scopes": scopes,
        **more,
    }


CONFIG: dict[str, Any] = {
    **OIDC_CONFIG,
    "clients": [
        client
        for client in OIDC_CONFIG["clients"]
        if client["client_id"] not in {"legacy", "web-app"}
    ]
    + [
        # Impersonation only: its users' access and refresh tokens, for the main API.
        _client(
            "legacy",
            ["password", "refresh_token", EXCHANGE],
            ["openid", "profile", "offline_access", "api:read", "api:write"],
            token_exchange={
                "subject_token_types": ["access_token", "refresh_token"],
                "audiences": [AUDIENCE],
                "allow_impersonation": True,
                "allow_delegation": False,
            },
        ),
        {
            **next(c for c in OIDC_CONFIG["clients"] if c["client_id"] == "web-app"),
            "grant_types": ["authorization_code", "refresh_token", EXCHANGE],
            "token_exchange": {
                "subject_token_types": ["id_token"],
                "audiences": [AUDIENCE],
                "allow_impersonation": True,
            },
        },
        # Everything, both APIs, impersonation and delegation.
        _client(
            "gateway",
            ["client_credentials", EXCHANGE],
            ["openid", "profile", "api:read", "api:write", "billing:read"],
            token_exchange={
                "subject_token_types": ["access_token", "refresh_token", "id_token", "jwt"],
                "audiences": [AUDIENCE, BILLING],
                "allow_impersonation": True,
            },
        ),
        # Delegation only (the default), access tokens only, the main API only.
        _client(
            "agent",
            ["client_credentials", EXCHANGE],
            ["api:read"],
            token_exchange={"subject_token_types": ["access_token"], "audiences": [AUDIENCE]},
        ),
        _client("no-policy", ["client_credentials", EXCHANGE], ["api:read"]),
    ],
    "api_resources": [
        {"audience": AUDIENCE, "scopes": ["api:read", "api:write"]},
        {"audience": BILLING, "scopes": ["billing:read"], "access_token_format": "opaque"},
    ],
    "trusted_issuers": [
        {
            "issuer": PARTNER,
            "jwks": {"keys": [PARTNER_KEY.as_dict(private=False)]},
            "allow_unknown_subjects": True,
        }
    ],
}


@pytest.fixture
def server(make_client):
    return make_client(**CONFIG)


def token(server, headers, **form) -> dict[str, Any]:
    response = server.post("/token", data=form, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def alice_tokens(server, scope="openid profile offline_access api:read") -> dict[str, Any]:
    form = {"grant_type": "password", "username": "alice", "password": ALICE_PASSWORD}
    return token(server, LEGACY, **form, scope=scope)


def machine_token(server, headers=MACHINE, scope="api:read") -> str:
    return token(server, headers, grant_type="client_credentials", scope=scope)["access_token"]


def exchange(server, headers, subject, subject_type="access_token", **form):
    data = {
        "grant_type": EXCHANGE,
        "subject_token": subject,
        "subject_token_type": TYPE + subject_type,
        **form,
    }
    return server.post("/token", data=data, headers=headers)


def delegate(server, headers, subject, actor, **form):
    actor_type = TYPE + "access_token"
    return exchange(
        server, headers, subject, actor_token=actor, actor_token_type=actor_type, **form
    )


def claims_of(response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return decode_jwt_unverified(response.json()["access_token"])[1]


def partner_jwt(**claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": PARTNER, "sub": "partner-user-7", "aud": ISSUER, "exp": now + 300, **claims}
    return jwt.encode({"alg": "ES256", "kid": PARTNER_KEY.kid}, payload, PARTNER_KEY)


def test_impersonation_issues_a_token_for_the_subject_without_act(server):
    subject = alice_tokens(server)["access_token"]
    response = exchange(server, GATEWAY, subject, audience=AUDIENCE, scope="api:read")
    body = response.json()
    assert body["issued_token_type"] == TYPE + "access_token"
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api:read"
    assert "refresh_token" not in body
    claims = claims_of(response)
    assert claims["sub"] == decode_jwt_unverified(subject)[1]["sub"]
    assert claims["client_id"] == "gateway"
    assert claims["aud"] == AUDIENCE
    assert "act" not in claims


def test_impersonated_user_token_works_at_userinfo(server):
    subject = alice_tokens(server)["access_token"]
    exchanged = exchange(server, GATEWAY, subject).json()
    assert exchanged["scope"] == "api:read openid profile"
    bearer = {"Authorization": f"Bearer {exchanged['access_token']}"}
    userinfo = server.get("/userinfo", headers=bearer)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["given_name"] == "Alice"


def test_delegation_names_the_actor_in_act(server):
    subject = alice_tokens(server)["access_token"]
    claims = claims_of(delegate(server, GATEWAY, subject, machine_token(server)))
    assert claims["sub"] == decode_jwt_unverified(subject)[1]["sub"]
    assert claims["act"] == {"sub": "machine"}


def test_delegating_a_delegated_token_nests_the_prior_actor(server):
    # RFC 8693 section 4.1's example: service77 called service16 with a token it
    # had been delegated; service16 exchanges it, and is now the current actor.
    subject = alice_tokens(server)["access_token"]
    delegated = delegate(server, GATEWAY, subject, machine_token(server)).json()["access_token"]
    agent_token = machine_token(server, AGENT)
    claims = claims_of(delegate(server, AGENT, delegated, agent_token))
    assert claims["sub"] == decode_jwt_unverified(subject)[1]["sub"]
    assert claims["act"] == {"sub": "agent", "act": {"sub": "machine"}}


def test_impersonating_a_delegated_token_keeps_its_act(server):
    subject = alice_tokens(server)["access_token"]
    delegated = delegate(server, GATEWAY, subject, machine_token(server)).json()["access_token"]
    assert claims_of(exchange(server, GATEWAY, delegated))["act"] == {"sub": "machine"}


def test_actor_token_that_is_itself_delegated_is_invalid_request(server):
    subject = alice_tokens(server)["access_token"]
    delegated = delegate(server, GATEWAY, subject, machine_token(server)).json()["access_token"]
    response = delegate(server, GATEWAY, subject, delegated)
    assert_oauth_error(response, "invalid_request", 400)


def test_audience_selects_the_api_and_narrows_the_default_scope(server):
    subject = machine_token(server, GATEWAY, scope="api:read billing:read")
    claims = claims_of(exchange(server, GATEWAY, subject, audience=AUDIENCE))
    assert claims["aud"] == AUDIENCE
    assert claims["scope"] == "api:read"
    assert claims["sub"] == "gateway"  # a machine subject: the subject token's sub


def test_audience_and_resource_together_name_every_api(server):
    subject = machine_token(server, GATEWAY, scope="api:read billing:read")
    form = {"audience": AUDIENCE, "resource": BILLING, "requested_token_type": TYPE + "jwt"}
    response = exchange(server, GATEWAY, subject, **form)
    assert response.json()["issued_token_type"] == TYPE + "jwt"
    claims = claims_of(response)
    assert sorted(claims["aud"]) == sorted([AUDIENCE, BILLING])
    assert sorted(claims["scope"].split()) == ["api:read", "billing:read"]


def test_repeated_audience_is_accepted(server):
    subject = machine_token(server, GATEWAY, scope="api:read billing:read")
    body = f"grant_type={EXCHANGE}&subject_token={subject}&subject_token_type={TYPE}access_token"
    body += f"&audience={AUDIENCE}&audience={BILLING}&requested_token_type={TYPE}jwt"
    response = server.post(
        "/token",
        content=body,
        headers={**GATEWAY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert sorted(claims_of(response)["aud"]) == sorted([AUDIENCE, BILLING])


def test_api_with_opaque_tokens_gets_an_opaque_token_unless_a_jwt_is_requested(server):
    subject = machine_token(server, GATEWAY, scope="billing:read")
    opaque = exchange(server, GATEWAY, subject, resource=BILLING).json()
    assert opaque["access_token"].count(".") == 0
    assert opaque["issued_token_type"] == TYPE + "access_token"
    response = exchange(
        server, GATEWAY, subject, resource=BILLING, requested_token_type=TYPE + "jwt"
    )
    assert claims_of(response)["aud"] == BILLING


def test_unknown_audience_is_invalid_target(server):
    subject = machine_token(server, GATEWAY)
    response = exchange(server, GATEWAY, subject, audience="https://unknown.example.test")
    assert_oauth_error(response, "invalid_target", 400)


def test_audience_outside_the_policy_is_invalid_target(server):
    subject = alice_tokens(server)["access_token"]
    response = delegate(server, AGENT, subject, machine_token(server, AGENT), audience=BILLING)
    assert_oauth_error(response, "invalid_target", 400)


def test_scope_beyond_the_subject_token_is_invalid_scope(server):
    subject = alice_tokens(server, scope="openid api:read")["access_token"]
    response = exchange(server, GATEWAY, subject, scope="api:read api:write")
    assert_oauth_error(response, "invalid_scope", 400)


def test_client_without_a_policy_is_unauthorized_client(server):
    subject = machine_token(server)
    headers = basic_auth("no-policy", "no-policy-secret")
    assert_oauth_error(exchange(server, headers, subject), "unauthorized_client", 400)


def test_client_without_the_grant_type_is_unauthorized_client(server):
    subject = machine_token(server)
    assert_oauth_error(exchange(server, MACHINE, subject), "unauthorized_client", 400)


def test_subject_token_type_outside_the_policy_is_invalid_request(server):
    refresh = alice_tokens(server)["refresh_token"]
    actor = machine_token(server, AGENT)
    response = delegate(server, AGENT, refresh, actor, subject_token_type=TYPE + "refresh_token")
    assert_oauth_error(response, "invalid_request", 400)


def test_delegation_is_refused_to_a_client_allowed_only_impersonation(server):
    subject = alice_tokens(server)["access_token"]
    response = delegate(server, LEGACY, subject, machine_token(server))
    assert_oauth_error(response, "invalid_request", 400)


def test_impersonation_is_refused_to_a_client_allowed_only_delegation(server):
    subject = alice_tokens(server)["access_token"]
    assert_oauth_error(exchange(server, AGENT, subject), "invalid_request", 400)


def test_expired_subject_token_is_invalid_request(make_client):
    config = {**CONFIG, "access_token_lifetime": 1}
    server = make_client(**config)
    subject = machine_token(server, GATEWAY)
    assert exchange(server, GATEWAY, subject).status_code == 200  # good while it lives
    time.sleep(1.5)
    refused = exchange(server, GATEWAY, subject)
    assert_oauth_error(refused, "invalid_request", 400)
    assert "expired" in refused.json()["error_description"]


def test_unknown_subject_token_is_invalid_request(server):
    assert_oauth_error(exchange(server, GATEWAY, "not-a-token"), "invalid_request", 400)
    forged = partner_jwt().rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    assert_oauth_error(exchange(server, GATEWAY, forged), "invalid_request", 400)


def test_refresh_token_is_exchanged_by_the_client_it_was_issued_to(server):
    refresh = alice_tokens(server)["refresh_token"]
    response = exchange(server, LEGACY, refresh, "refresh_token", scope="api:read")
    assert claims_of(response)["client_id"] == "legacy"
    assert_oauth_error(exchange(server, GATEWAY, refresh, "refresh_token"), "invalid_request", 400)


def test_revoked_refresh_token_subject_is_invalid_request(server):
    refresh = alice_tokens(server)["refresh_token"]
    revoked = server.post("/revoke", data={"token": refresh}, headers=LEGACY)
    assert revoked.status_code == 200
    response = exchange(server, LEGACY, refresh, "refresh_token")
    assert_oauth_error(response, "invalid_request", 400)


def test_used_refresh_token_subject_is_invalid_request(server):
    refresh = alice_tokens(server)["refresh_token"]
    token(server, LEGACY, grant_type="refresh_token", refresh_token=refresh)
    response = exchange(server, LEGACY, refresh, "refresh_token")
    assert_oauth_error(response, "invalid_request", 400)


def test_id_token_is_exchanged_only_by_its_audience(server):
    flow = authorize_params(scope="openid profile api:read")
    code = query_of(sign_in(server, flow).headers["location"])["code"]
    tokens = token(
        server,
        WEB,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=flow["_verifier"],
    )
    id_token = tokens["id_token"]
    claims = claims_of(exchange(server, WEB, id_token, "id_token", scope="api:read"))
    assert claims["sub"] == decode_jwt_unverified(id_token)[1]["sub"]
    assert claims["client_id"] == "web-app"
    assert_oauth_error(exchange(server, GATEWAY, id_token, "id_token"), "invalid_request", 400)


def test_access_token_presented_as_id_token_is_invalid_request(server):
    subject = alice_tokens(server)["access_token"]
    assert_oauth_error(exchange(server, WEB, subject, "id_token"), "invalid_request", 400)


def test_jwt_from_a_trusted_issuer_is_exchanged_for_its_subject(server):
    claims = claims_of(exchange(server, GATEWAY, partner_jwt(), "jwt", scope="api:read"))
    assert claims["sub"] == "partner-user-7"
    assert "act" not in claims


def test_jwt_from_an_untrusted_issuer_or_for_another_audience_is_invalid_request(server):
    other = partner_jwt(iss="https://evil.example")
    assert_oauth_error(exchange(server, GATEWAY, other, "jwt"), "invalid_request", 400)
    elsewhere = partner_jwt(aud="https://another-as.example")
    assert_oauth_error(exchange(server, GATEWAY, elsewhere, "jwt"), "invalid_request", 400)


def test_may_act_names_the_only_party_that_may_act(server):
    subject = partner_jwt(may_act={"sub": "machine"})
    form = {"subject_token_type": TYPE + "jwt", "scope": "api:read"}
    allowed = delegate(server, GATEWAY, subject, machine_token(server), **form)
    assert claims_of(allowed)["act"] == {"sub": "machine"}
    refused = delegate(server, GATEWAY, subject, machine_token(server, AGENT), **form)
    assert_oauth_error(refused, "invalid_request", 400)


@pytest.mark.parametrize(
    "form",
    [
        {"subject_token_type": TYPE + "saml2"},
        {"subject_token_type": "access_token"},
        {"requested_token_type": TYPE + "refresh_token"},
        {"requested_token_type": TYPE + "id_token"},
        {"actor_token_type": TYPE + "access_token"},
    ],
    ids=["saml2-subject", "bare-type-name", "refresh-token", "id-token", "actor-type-alone"],
)
def test_unknown_or_unissuable_token_types_are_invalid_request(server, form):
    subject = machine_token(server, GATEWAY)
    assert_oauth_error(exchange(server, GATEWAY, subject, **form), "invalid_request", 400)


def test_missing_subject_token_is_invalid_request(server):
    form = {"grant_type": EXCHANGE, "subject_token_type": TYPE + "access_token"}
    assert_oauth_error(server.post("/token", data=form, headers=GATEWAY), "invalid_request", 400)


def test_discovery_lists_token_exchange(server):
    metadata = server.get("/.well-known/openid-configuration").json()
    assert EXCHANGE in metadata["grant_types_supported"]


def test_policy_audiences_must_be_configured_apis(make_settings):
    policy = {"subject_token_types": ["access_token"], "audiences": ["https://nowhere.test"]}
    client = _client("x", [EXCHANGE], [], token_exchange=policy)
    with pytest.raises(ValidationError, match="no api_resources audiences"):
        make_settings(clients=[client])


def test_policy_needs_the_grant_type(make_settings):
    policy = {"subject_token_types": ["access_token"], "audiences": [AUDIENCE]}
    client = _client("x", ["client_credentials"], [], token_exchange=policy)
    with pytest.raises(ValidationError, match="grant_types lacks"):
        make_settings(clients=[client])


def test_dpop_bound_subject_token_is_exchanged_only_with_a_proof_by_its_key(server):
    """RFC 9449 section 7: a stolen bound token must not be swapped for an unbound one."""
    key = new_key()
    form = {"grant_type": "password", "username": "alice", "password": ALICE_PASSWORD}
    bound = server.post(
        "/token",
        data={**form, "scope": "openid api:read"},
        headers={**LEGACY, "DPoP": make_proof(key, "POST", f"{ISSUER}/token")},
    ).json()
    assert bound["token_type"] == "DPoP"
    subject = bound["access_token"]
    without_proof = exchange(server, GATEWAY, subject, audience=AUDIENCE)
    body = assert_oauth_error(without_proof, "invalid_request", 400)
    assert "DPoP-bound" in body["error_description"]
    other_key = {"DPoP": make_proof(new_key(), "POST", f"{ISSUER}/token")}
    refused = exchange(server, {**GATEWAY, **other_key}, subject, audience=AUDIENCE)
    assert_oauth_error(refused, "invalid_request", 400)
    same_key = {"DPoP": make_proof(key, "POST", f"{ISSUER}/token")}
    accepted = exchange(server, {**GATEWAY, **same_key}, subject, audience=AUDIENCE)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["token_type"] == "DPoP"  # the new token is bound to the same key
