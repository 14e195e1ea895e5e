"""Discovery and JWKS advertise exactly what the server does."""

from __future__ import annotations

from tokensmith import Services
from tokensmith.clientauth import ClientSecretPost


def test_discovery_lists_only_what_works(client):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.json()
    base = "http://127.0.0.1:8000"
    assert metadata["issuer"] == base
    assert metadata["authorization_endpoint"] == f"{base}/authorize"
    assert metadata["token_endpoint"] == f"{base}/token"
    assert metadata["userinfo_endpoint"] == f"{base}/userinfo"
    assert metadata["end_session_endpoint"] == f"{base}/logout"
    assert metadata["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert {
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    } <= set(metadata["grant_types_supported"])
    assert "password" not in metadata["grant_types_supported"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_jwt",
        "client_secret_post",
        "none",
        "private_key_jwt",
    ]
    assert metadata["scopes_supported"] == [
        "address",
        "api:read",
        "api:write",
        "billing:read",
        "email",
        "offline_access",
        "openid",
        "phone",
        "profile",
        "tokensmith:admin",
    ]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["response_modes_supported"] == ["query", "form_post"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    assert metadata["subject_types_supported"] == ["public"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["request_parameter_supported"] is False
    assert client.get("/.well-known/oauth-authorization-server").json() == metadata


def test_password_grant_is_advertised_only_when_enabled(make_client):
    client = make_client(password_grant_enabled=True)
    metadata = client.get("/.well-known/openid-configuration").json()
    assert "password" in metadata["grant_types_supported"]


def test_discovery_follows_the_registries(make_client):
    client = make_client(
        Services(client_authenticators=(ClientSecretPost,)),
        clients=[],
        api_resources=[],
        create_demo_client=False,
    )
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["token_endpoint_auth_methods_supported"] == ["client_secret_post"]
    assert "api:read" not in metadata["scopes_supported"]


def test_jwks_publishes_the_signing_key_without_private_parts(client):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    (key,) = response.json()["keys"]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ES256"
    assert key["use"] == "sig"
    assert key["kid"]
    assert "d" not in key


def test_issuer_from_settings_is_used_everywhere(make_client):
    client = make_client(issuer="https://login.example.test/")
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["issuer"] == "https://login.example.test"
    assert metadata["token_endpoint"] == "https://login.example.test/token"
