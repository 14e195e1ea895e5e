"""Admin API for custom-claims scripts: authenticated by our own admin-scoped tokens."""

from __future__ import annotations

import time

import pytest

from tests.helpers import basic_auth, decode_jwt_unverified
from tests.tokens.claims_hooks import LOGTO_STYLE_SCRIPT
from tests.tokens.test_custom_claims import CONFIG, password_token
from tokensmith.tokens.custom_claims import SCRIPT_RECHECK_SECONDS

OPS = {
    "client_id": "ops",
    "client_secret": "ops-secret",
    "grant_types": ["client_credentials"],
    "scopes": ["tokensmith:admin"],
}


@pytest.fixture
def server(make_client):
    config = {**CONFIG, "clients": [*CONFIG["clients"], OPS]}
    return make_client(**config, custom_claims={"environment": {"TENANT": "acme"}})


def admin_headers(server) -> dict[str, str]:
    response = server.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic_auth("ops", "ops-secret")
    )
    assert response.status_code == 200, response.text
    _, claims = decode_jwt_unverified(response.json()["access_token"])
    assert claims["aud"] == "http://127.0.0.1:8000/admin"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_script_lifecycle_through_the_admin_api_takes_effect_without_restart(server):
    headers = admin_headers(server)
    put = server.put(
        "/admin/claims/scripts/user", json={"source": LOGTO_STYLE_SCRIPT}, headers=headers
    )
    assert put.status_code == 204, put.text
    shown = server.get("/admin/claims/scripts/user", headers=headers).json()
    assert shown["source"] == LOGTO_STYLE_SCRIPT
    assert [s["kind"] for s in server.get("/admin/claims/scripts", headers=headers).json()] == [
        "user"
    ]
    time.sleep(SCRIPT_RECHECK_SECONDS + 0.2)
    _, claims = decode_jwt_unverified(password_token(server).json()["access_token"])
    assert claims["roles"] == ["admin", "editor"]
    assert server.delete("/admin/claims/scripts/user", headers=headers).status_code == 204
    assert server.get("/admin/claims/scripts/user", headers=headers).status_code == 404
    time.sleep(SCRIPT_RECHECK_SECONDS + 0.2)
    _, claims = decode_jwt_unverified(password_token(server).json()["access_token"])
    assert "roles" not in claims


def test_a_script_that_does_not_compile_is_refused(server):
    response = server.put(
        "/admin/claims/scripts/user", json={"source": "const x = ;"}, headers=admin_headers(server)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_dry_run_reports_claims_and_drops(server):
    script = LOGTO_STYLE_SCRIPT.replace("roles:", "sub: 'root', roles:")
    response = server.post(
        "/admin/claims/test", json={"script": script}, headers=admin_headers(server)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "issued"
    assert body["claims"]["roles"] == ["admin", "editor"]
    assert body["claims"]["tenant"] == "acme"
    assert body["dropped"] == {"sub": "protected built-in claim"}


def test_dry_run_of_a_denying_script_reports_the_refusal(server):
    context = {"user": {"customData": {"blocked": True}, "roles": []}}
    response = server.post(
        "/admin/claims/test",
        json={"script": LOGTO_STYLE_SCRIPT, "context": context},
        headers=admin_headers(server),
    )
    assert response.json() == {
        "outcome": "refused",
        "error": "access_denied",
        "error_description": "This account is blocked.",
    }


def test_admin_api_needs_a_token(server):
    response = server.get("/admin/claims/scripts")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tokensmith"'


def test_admin_api_refuses_tokens_for_other_apis(server):
    token = server.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("machine", "machine-secret"),
    ).json()["access_token"]
    response = server.put(
        "/admin/claims/scripts/user",
        json={"source": LOGTO_STYLE_SCRIPT},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_unknown_kind_is_invalid_request(server):
    response = server.get("/admin/claims/scripts/everything", headers=admin_headers(server))
    assert response.status_code == 400
