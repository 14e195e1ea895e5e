"""Admin API for API resources, users and signing keys."""

from __future__ import annotations

import pytest

from tests.admin.conftest import token_for
from tests.helpers import decode_jwt_unverified

REPORTS = {"audience": "https://reports.example.test", "scopes": ["reports:read"]}


def test_stored_resource_and_its_scope_are_usable_at_once(server, headers):
    created = server.post("/admin/resources", json=REPORTS, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "database"
    client = {"client_id": "reporter", "scopes": ["reports:read"]}
    secret = server.post("/admin/clients", json=client, headers=headers).json()["client_secret"]
    token = token_for(server, "reporter", secret, scope="reports:read")
    assert token.status_code == 200, token.text
    _, claims = decode_jwt_unverified(token.json()["access_token"])
    assert claims["aud"] == "https://reports.example.test"
    shown = server.get("/admin/resources/https://reports.example.test", headers=headers)
    assert shown.json()["scopes"] == ["reports:read"]
    audiences = {
        r["audience"]: r["source"] for r in server.get("/admin/resources", headers=headers).json()
    }
    assert audiences["https://api.example.test"] == "config"


def test_resource_update_and_delete(server, headers):
    server.post("/admin/resources", json=REPORTS, headers=headers)
    path = "/admin/resources/https://reports.example.test"
    changed = server.put(
        path,
        json={"scopes": ["reports:read", "reports:write"], "access_token_format": "opaque"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["access_token_format"] == "opaque"
    assert server.delete(path, headers=headers).status_code == 204
    assert server.get(path, headers=headers).status_code == 404


def test_config_resources_are_read_only_and_bad_bodies_name_the_field(server, headers):
    config = "/admin/resources/https://api.example.test"
    assert server.put(config, json={"scopes": []}, headers=headers).status_code == 409
    assert server.delete(config, headers=headers).status_code == 409
    admin = "/admin/resources/http://127.0.0.1:8000/admin"
    assert server.delete(admin, headers=headers).status_code == 409
    bad = server.post(
        "/admin/resources", json={**REPORTS, "access_token_format": "xml"}, headers=headers
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "access_token_format"
    assert server.post("/admin/resources", json=REPORTS).status_code == 401


def test_user_lifecycle(server, headers):
    created = server.post(
        "/admin/users",
        json={
            "username": "carol",
            "password": "a long enough password",
            "roles": ["ops"],
            "profile": {"given_name": "Carol"},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert "password" not in created.json()
    assert created.json()["roles"] == ["ops"]
    changed = server.patch(
        "/admin/users/carol",
        json={"custom_data": {"plan": "pro"}, "enabled": False},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["custom_data"] == {"plan": "pro"}
    assert changed.json()["enabled"] is False
    assert changed.json()["profile"] == {"given_name": "Carol"}
    password = server.put(
        "/admin/users/carol/password", json={"password": "another long password"}, headers=headers
    )
    assert password.status_code == 204
    short = server.put("/admin/users/carol/password", json={"password": "short"}, headers=headers)
    assert short.status_code == 400
    assert short.json()["field"] == "password"
    taken = server.post(
        "/admin/users",
        json={"username": "carol", "password": "a long enough password"},
        headers=headers,
    )
    assert taken.status_code == 409
    assert server.get("/admin/users/nobody", headers=headers).status_code == 404
    unknown = server.patch("/admin/users/carol", json={"password_hash": "x"}, headers=headers)
    assert unknown.status_code == 400


def test_users_are_listed_in_pages(server, headers):
    for name in ("u1", "u2", "u3"):
        server.post(
            "/admin/users",
            json={"username": name, "password": "a long enough password"},
            headers=headers,
        )
    first = server.get("/admin/users?limit=2", headers=headers).json()
    assert [u["username"] for u in first["users"]] == ["u1", "u2"]
    second = server.get(f"/admin/users?limit=2&after={first['next']}", headers=headers).json()
    assert [u["username"] for u in second["users"]] == ["u3"]
    assert second["next"] is None
    assert server.get("/admin/users?limit=0", headers=headers).status_code == 400


@pytest.mark.parametrize("limit", ["\u00b2", "9" * 5000, "-1", "1.0"])
def test_users_limit_that_is_not_a_small_whole_number_is_refused(server, headers, limit):
    # "²" passes str.isdigit() and int() refused it, like 5000 digits: both were a 500.
    response = server.get("/admin/users", params={"limit": limit}, headers=headers)
    assert response.status_code == 400
    assert response.json()["field"] == "limit"


def test_keys_list_rotate_retire(server, headers):
    (active,) = server.get("/admin/keys", headers=headers).json()
    assert active["status"] == "active"
    rotated = server.post("/admin/keys/rotate", json={"immediately": True}, headers=headers)
    assert rotated.status_code == 201, rotated.text
    states = {k["kid"]: k["status"] for k in server.get("/admin/keys", headers=headers).json()}
    assert states[rotated.json()["kid"]] == "active"
    assert states[active["kid"]] == "retired"
    jwks = {k["kid"] for k in server.get("/.well-known/jwks.json").json()["keys"]}
    assert rotated.json()["kid"] in jwks
    only = server.post(f"/admin/keys/{rotated.json()['kid']}/retire", headers=headers)
    assert only.status_code == 409  # the only key that can sign
    assert server.post("/admin/keys/nope/retire", headers=headers).status_code == 404
    upcoming = server.post("/admin/keys/rotate", headers=headers).json()
    assert upcoming["status"] == "next"
    retired = server.post(f"/admin/keys/{upcoming['kid']}/retire", headers=headers)
    assert retired.status_code == 200
    assert retired.json()["status"] in ("retired", "expired")


def test_openapi_document_is_served_without_auth(server):
    document = server.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/admin/clients", "/token", "/introspect", "/userinfo", "/admin/claims/scripts"} <= set(
        document["paths"]
    )
    assert "client_secret" not in document["components"]["schemas"]["ClientBody"]["properties"]
