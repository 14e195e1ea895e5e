"""Admin API for clients: CRUD, generated secrets, config clients read-only, bad bodies."""

from __future__ import annotations

from sqlalchemy import select

from tests.admin.conftest import ADMIN_CONFIG, minted_admin_token, token_for
from tests.helpers import decode_jwt_unverified

BILLING = {
    "client_id": "billing-job",
    "client_name": "Billing",
    "grant_types": ["client_credentials"],
    "scopes": ["api:read"],
}


def test_created_client_gets_a_token_with_the_secret_shown_once(server, headers):
    created = server.post("/admin/clients", json=BILLING, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body.pop("client_secret")
    assert len(secret) >= 43  # 256 bits, base64url
    assert body["source"] == "database"
    assert body["scopes"] == ["api:read"]
    assert "secret_hashes" not in body
    assert "client_secret" not in server.get("/admin/clients/billing-job", headers=headers).json()
    token = token_for(server, "billing-job", secret)
    assert token.status_code == 200, token.text
    _, claims = decode_jwt_unverified(token.json()["access_token"])
    assert claims["client_id"] == "billing-job"


def test_list_shows_config_and_stored_clients(server, headers):
    server.post("/admin/clients", json=BILLING, headers=headers)
    listed = {
        c["client_id"]: c["source"] for c in server.get("/admin/clients", headers=headers).json()
    }
    assert listed["billing-job"] == "database"
    assert listed["orders-service"] == "config"


def test_update_replaces_fields_keeps_the_secret_and_takes_effect_at_once(server, headers):
    secret = server.post("/admin/clients", json=BILLING, headers=headers).json()["client_secret"]
    assert token_for(server, "billing-job", secret).status_code == 200  # now cached
    changed = server.put(
        "/admin/clients/billing-job",
        json={**BILLING, "scopes": ["billing:read"], "access_token_lifetime": 120},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert "client_secret" not in changed.json()
    assert changed.json()["access_token_lifetime"] == 120
    token = token_for(server, "billing-job", secret)
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "billing:read"
    assert token.json()["expires_in"] == 120


def test_rotate_secret_replaces_the_old_one(server, headers):
    old = server.post("/admin/clients", json=BILLING, headers=headers).json()["client_secret"]
    rotated = server.post("/admin/clients/billing-job/secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old
    assert token_for(server, "billing-job", old).status_code == 401
    assert token_for(server, "billing-job", new).status_code == 200


def test_deleted_client_can_no_longer_authenticate(server, headers):
    secret = server.post("/admin/clients", json=BILLING, headers=headers).json()["client_secret"]
    assert token_for(server, "billing-job", secret).status_code == 200
    assert server.delete("/admin/clients/billing-job", headers=headers).status_code == 204
    assert token_for(server, "billing-job", secret).status_code == 401
    missing = server.get("/admin/clients/billing-job", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_every_client_field_round_trips(server, headers):
    body = {
        "client_id": "web-app",
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "api:read"],
        "redirect_uris": ["https://app.example.test/cb"],
        "post_logout_redirect_uris": ["https://app.example.test/bye"],
        "require_consent": False,
        "require_pushed_authorization_requests": True,
        "always_issue_refresh_token": True,
        "refresh_token_rotation": False,
        "dpop_bound_access_tokens": True,
        "access_token_format": "opaque",
    }
    created = server.post("/admin/clients", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert "client_secret" not in created.json()
    shown = server.get("/admin/clients/web-app", headers=headers).json()
    for name, value in body.items():
        assert shown[name] == (sorted(value) if name in ("grant_types", "scopes") else value), name


def test_client_secret_jwt_key_is_encrypted_at_rest(server, headers, make_settings):
    created = server.post(
        "/admin/clients",
        json={
            **BILLING,
            "client_id": "hmac-job",
            "token_endpoint_auth_method": "client_secret_jwt",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["client_secret"]

    import asyncio

    from tokensmith.stores.sql.engine import create_engine
    from tokensmith.stores.sql.tables import clients

    async def stored_row():
        engine = create_engine(make_settings().database)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(
                    select(clients).where(clients.c.client_id == "hmac-job")
                )
                return result.mappings().one()
        finally:
            await engine.dispose()

    row = asyncio.run(stored_row())
    assert secret.encode() not in row["encrypted_hmac_key"]
    assert secret not in str(row["client_metadata"])
    assert row["encrypted_hmac_key"]

    from tests.clientauth.assertions import assertion_form, claims_for, sign

    def authenticate(key: str) -> int:
        assertion = sign(claims_for("hmac-job"), "HS256", key=key.encode())
        return server.post("/token", data=assertion_form(assertion)).status_code

    assert authenticate(secret) == 200  # decrypted from the row, it verifies the HMAC
    rotated = server.post("/admin/clients/hmac-job/secret", headers=headers).json()
    assert authenticate(secret) == 401
    assert authenticate(rotated["client_secret"]) == 200


def test_config_clients_are_read_only(server, headers):
    for response in (
        server.put("/admin/clients/orders-service", json=BILLING, headers=headers),
        server.delete("/admin/clients/orders-service", headers=headers),
        server.post("/admin/clients/orders-service/secret", headers=headers),
        server.post(
            "/admin/clients", json={**BILLING, "client_id": "orders-service"}, headers=headers
        ),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "conflict"
        assert "config file" in response.json()["error_description"]


def test_duplicate_client_is_a_conflict(server, headers):
    assert server.post("/admin/clients", json=BILLING, headers=headers).status_code == 201
    again = server.post("/admin/clients", json=BILLING, headers=headers)
    assert again.status_code == 409


def test_bad_bodies_are_400_naming_the_field(server, headers):
    cases = [
        ({**BILLING, "redirect_uris": ["http://evil.example.test/cb"]}, "redirect_uris"),
        ({**BILLING, "grant_types": ["urn:made-up"]}, "grant_types[0]"),
        ({**BILLING, "scopes": ["nobody:owns"]}, "scopes"),
        ({**BILLING, "token_endpoint_auth_method": "magic"}, "token_endpoint_auth_method"),
        ({**BILLING, "client_secret": "chosen"}, "client_secret"),
        ({**BILLING, "unknown_field": 1}, "unknown_field"),
        ({**BILLING, "access_token_lifetime": -5}, "access_token_lifetime"),
    ]
    for body, field in cases:
        response = server.post("/admin/clients", json=body, headers=headers)
        assert response.status_code == 400, (field, response.text)
        assert response.json()["error"] == "invalid_request"
        assert response.json()["field"] == field, response.json()
    not_json = server.post(
        "/admin/clients", content=b"{", headers={**headers, "content-type": "application/json"}
    )
    assert not_json.status_code == 400
    array = server.post("/admin/clients", json=[1], headers=headers)
    assert array.status_code == 400


def test_an_oversized_body_is_413_and_creates_nothing(server, headers):
    padded = {**BILLING, "client_name": "x" * (256 * 1024)}
    response = server.post("/admin/clients", json=padded, headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invalid_request"
    assert server.get("/admin/clients/billing-job", headers=headers).status_code == 404


def test_admin_api_needs_a_token(server):
    response = server.get("/admin/clients")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tokensmith"'


async def test_admin_api_refuses_a_token_without_the_admin_scope(server, make_settings):
    token = await minted_admin_token(make_settings(**ADMIN_CONFIG), "api:read")
    response = server.get("/admin/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    same_key = await minted_admin_token(make_settings(**ADMIN_CONFIG), "tokensmith:admin")
    assert (
        server.get("/admin/clients", headers={"Authorization": f"Bearer {same_key}"}).status_code
        == 200
    )


def test_admin_api_refuses_tokens_for_other_apis(server):
    plain = token_for(server, "orders-service", "s3cret-from-a-vault").json()["access_token"]
    response = server.get("/admin/clients", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_admin_writes_are_audited_with_the_actor(server, headers, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="tokensmith.audit")
    secret = server.post("/admin/clients", json=BILLING, headers=headers).json()["client_secret"]
    server.delete("/admin/clients/billing-job", headers=headers)
    events = [r.getMessage() for r in caplog.records if r.name == "tokensmith.audit"]
    created = next(e for e in events if '"admin.client.created"' in e)
    assert '"actor":"ops"' in created
    assert '"client_id":"billing-job"' in created
    assert any('"admin.client.deleted"' in e for e in events)
    assert all(secret not in e for e in events)
