"""Endpoints that only take Bearer tokens refuse DPoP-bound ones (RFC 9449 section 7.2)."""

from __future__ import annotations

from tests.dpop.conftest import DPOP_CONFIG, TOKEN_URL
from tests.dpop.proofs import make_proof, new_key
from tests.helpers import basic_auth

OPS = {
    "client_id": "ops",
    "client_secret": "ops-secret",
    "grant_types": ["client_credentials"],
    "scopes": ["tokensmith:admin"],
}


def test_a_bound_admin_token_sent_as_bearer_is_refused(make_client):
    server = make_client(**{**DPOP_CONFIG, "clients": [*DPOP_CONFIG["clients"], OPS]})
    auth = basic_auth("ops", "ops-secret")
    form = {"grant_type": "client_credentials"}
    plain = server.post("/token", data=form, headers=auth).json()["access_token"]
    bound = server.post(
        "/token", data=form, headers={"DPoP": make_proof(new_key(), "POST", TOKEN_URL), **auth}
    ).json()["access_token"]
    listed = server.get("/admin/claims/scripts", headers={"Authorization": f"Bearer {plain}"})
    assert listed.status_code == 200, listed.text
    refused = server.get("/admin/claims/scripts", headers={"Authorization": f"Bearer {bound}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
