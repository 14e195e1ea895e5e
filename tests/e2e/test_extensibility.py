"""Replacing pipeline stages, from Python and from the config file, on a real server."""

from __future__ import annotations

import httpx2
import jwt
import pytest

from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e

HOOKS = """
[hooks]
token_creation = "custom_stages:CustomTokenCreationService"
token_response_generator = "custom_stages:TenantResponseGenerator"
"""


def fetch(base_url: str) -> httpx2.Response:
    return httpx2.post(
        f"{base_url}/token",
        data={"grant_type": "client_credentials", "scope": "api:read"},
        headers=basic_auth("orders-service", "s3cret-from-a-vault"),
    )


def verified_claims(token: str, base_url: str, audience: str) -> dict:
    key = jwt.PyJWKClient(f"{base_url}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256"], audience=audience)


@pytest.mark.parametrize("registration", ["python", "import-string"])
def test_custom_token_creation_service_adds_audience_custom1(
    server_factory, config_text, registration
):
    if registration == "python":
        server = server_factory(config_text, module="custom_app")
    else:
        server = server_factory(config_text + HOOKS)
    response = fetch(server.base_url)
    assert response.status_code == 200, response.text
    claims = verified_claims(response.json()["access_token"], server.base_url, "custom1")
    assert claims["aud"] == ["https://api.example.test", "custom1"]


@pytest.mark.parametrize("registration", ["python", "import-string"])
def test_response_generator_custom_entry_reaches_the_json(
    server_factory, config_text, registration
):
    if registration == "python":
        server = server_factory(config_text, module="custom_app")
    else:
        server = server_factory(config_text + HOOKS)
    body = fetch(server.base_url).json()
    assert body["tenant"] == "acme"
    assert body["token_type"] == "Bearer"
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "tenant"}
    assert None not in body.values()


def test_default_server_has_no_custom_audience(server_factory, config_text):
    server = server_factory(config_text)
    body = fetch(server.base_url).json()
    claims = verified_claims(body["access_token"], server.base_url, "https://api.example.test")
    assert claims["aud"] == "https://api.example.test"
    assert "tenant" not in body


EXTENSION = """
extension_grants = ["custom_stages:ApiKeyGrant"]

[[clients]]
client_id = "integration"
client_secret = "integration-secret"
grant_types = ["urn:example:params:grant-type:api-key"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]

[hooks]
token_response_generator = "custom_stages:ExtensionAwareGenerator"
"""


def test_extension_grant_by_import_string_issues_tokens_and_its_response_can_change(
    server_factory,
):
    server = server_factory(EXTENSION)
    discovery = httpx2.get(f"{server.base_url}/.well-known/openid-configuration").json()
    assert "urn:example:params:grant-type:api-key" in discovery["grant_types_supported"]
    response = httpx2.post(
        f"{server.base_url}/token",
        data={
            "grant_type": "urn:example:params:grant-type:api-key",
            "api_key": "key-for-integration",
        },
        headers=basic_auth("integration", "integration-secret"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["grant_used"] == "urn:example:params:grant-type:api-key"
    claims = verified_claims(body["access_token"], server.base_url, "https://api.example.test")
    assert claims["client_id"] == "integration"
    refused = httpx2.post(
        f"{server.base_url}/token",
        data={"grant_type": "urn:example:params:grant-type:api-key", "api_key": "wrong"},
        headers=basic_auth("integration", "integration-secret"),
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
