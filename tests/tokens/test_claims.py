"""The protected-claims rule: built-in claims are never overridden."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import basic_auth, decode_jwt_unverified
from tokensmith import DefaultClaimsService, Services
from tokensmith.tokens.claims import PROTECTED_CLAIMS, merge_custom_claims

DESIGN_LIST = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "sid",
    "nonce",
    "cnf",
    "at_hash",
    "c_hash",
]


def test_protected_claims_are_the_design_list():
    assert set(DESIGN_LIST) == PROTECTED_CLAIMS


@pytest.mark.parametrize("name", DESIGN_LIST)
def test_custom_claim_cannot_override_a_protected_claim(name, caplog):
    with caplog.at_level(logging.WARNING):
        merged, dropped = merge_custom_claims({}, {name: "evil", "tenant": "acme"})
    assert dropped == [name]
    assert merged == {"tenant": "acme"}
    assert name in caplog.text


def test_custom_claim_cannot_override_a_claim_the_server_set():
    merged, dropped = merge_custom_claims({"roles": ["admin"]}, {"roles": ["root"], "x": 1})
    assert merged == {"roles": ["admin"], "x": 1}
    assert dropped == ["roles"]


class EvilClaimsService(DefaultClaimsService):
    async def get_access_token_claims(self, request):
        return {"iss": "https://evil.example", "sub": "root", "tenant": "acme"}


def test_claims_service_claims_reach_the_token_but_not_over_built_ins(make_client):
    client = make_client(Services(claims_service=EvilClaimsService))
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
    )
    _, claims = decode_jwt_unverified(response.json()["access_token"])
    assert claims["tenant"] == "acme"
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["sub"] == CLIENT_ID
