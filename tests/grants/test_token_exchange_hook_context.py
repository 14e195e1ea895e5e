"""The custom-claims hook's context.grant.subject_token: present for token exchange only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import AUDIENCE
from tests.grants.test_token_exchange import (
    AGENT,
    CONFIG,
    GATEWAY,
    ISSUER,
    LEGACY,
    MACHINE,
    PARTNER,
    alice_tokens,
    claims_of,
    delegate,
    exchange,
    machine_token,
    partner_jwt,
)
from tests.helpers import decode_jwt_unverified
from tests.tokens import claims_hooks

RECORDER = {"callable": "tests.tokens.claims_hooks:recording_claims"}


@pytest.fixture
def server(make_client):
    claims_hooks.RECORDED.clear()
    yield make_client(**CONFIG, custom_claims={"user": RECORDER, "machine": RECORDER})
    claims_hooks.RECORDED.clear()


def last_seen() -> tuple[dict[str, Any], dict[str, Any]]:
    """The token and context of the latest hook run."""
    assert claims_hooks.RECORDED, "the hook did not run"
    return claims_hooks.RECORDED[-1]


def test_exchanging_a_delegated_access_token_shows_its_context_and_actors(server):
    alice = alice_tokens(server)["access_token"]
    alice_sub = decode_jwt_unverified(alice)[1]["sub"]
    delegated = delegate(server, GATEWAY, alice, machine_token(server)).json()["access_token"]
    delegated_claims = decode_jwt_unverified(delegated)[1]

    claims_of(delegate(server, AGENT, delegated, machine_token(server, AGENT), scope="api:read"))
    token, context = last_seen()
    assert context["grant"]["type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert context["grant"]["subject_token"] == {
        "type": "access_token",
        "subject": alice_sub,
        "issuer": ISSUER,
        "client_id": "gateway",  # the client the presented token was issued to
        "scopes": delegated_claims["scope"].split(),
        "audience": delegated_claims["aud"],  # the API and, for openid, userinfo
        "act": {"sub": "machine"},  # the actor the subject token already records
    }
    # This exchange's actor is in the token being built, with the prior actor nested.
    assert token["act"] == {"sub": "agent", "act": {"sub": "machine"}}
    # Never the token string itself: the context goes to webhooks and scripts.
    assert delegated not in json.dumps(context)


def test_a_refresh_token_subject_names_its_client_and_resources(server):
    tokens = alice_tokens(server)
    response = exchange(server, LEGACY, tokens["refresh_token"], "refresh_token", scope="api:read")
    assert response.status_code == 200, response.text
    _, context = last_seen()
    subject = context["grant"]["subject_token"]
    assert subject["type"] == "refresh_token"
    assert subject["subject"] == decode_jwt_unverified(tokens["access_token"])[1]["sub"]
    assert subject["client_id"] == "legacy"
    assert subject["scopes"] == tokens["scope"].split()
    assert subject["audience"] == [AUDIENCE]  # the resources it may be used for
    assert subject["act"] is None
    assert tokens["refresh_token"] not in json.dumps(context)


def test_a_trusted_issuers_jwt_carries_its_issuer_and_no_scopes(server):
    assertion = partner_jwt(azp="partner-app")
    response = exchange(server, GATEWAY, assertion, "jwt", audience=AUDIENCE)
    assert response.status_code == 200, response.text
    _, context = last_seen()
    assert "user" not in context  # an unknown subject: the machine hook ran
    assert context["grant"]["subject_token"] == {
        "type": "jwt",
        "subject": "partner-user-7",
        "issuer": PARTNER,
        "client_id": "partner-app",
        "scopes": None,
        "audience": [ISSUER],
        "act": None,
    }


def test_other_grants_carry_no_subject_token(server):
    alice_tokens(server)
    _, password_context = last_seen()
    assert password_context["grant"]["type"] == "password"
    machine_token(server, MACHINE)
    _, machine_context = last_seen()
    assert machine_context["grant"]["type"] == "client_credentials"
    for context in (password_context, machine_context):
        assert "subject_token" not in context["grant"]
