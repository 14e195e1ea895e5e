"""Replacement stages used by the extensibility tests (importable by string)."""

from __future__ import annotations

from typing import ClassVar

from tokensmith import (
    DefaultTokenCreationService,
    Token,
    TokenResponse,
    TokenResponseGenerator,
    ValidatedTokenRequest,
)
from tokensmith._types import Claims
from tokensmith.errors import InvalidGrant
from tokensmith.models.client import Client
from tokensmith.models.requests import TokenRequest
from tokensmith.stores.protocols import ResourceStore


class CustomTokenCreationService(DefaultTokenCreationService):
    """The seed example: add the audience "custom1" to every token."""

    async def create_payload(self, token: Token) -> Claims:
        token.audiences.append("custom1")
        return await super().create_payload(token)


class TenantResponseGenerator(TokenResponseGenerator):
    """Adds a custom entry to client_credentials responses only."""

    async def process_client_credentials_request(
        self, request: ValidatedTokenRequest
    ) -> TokenResponse:
        response = await super().process_client_credentials_request(request)
        response.custom["tenant"] = "acme"
        response.custom["token_type"] = "overridden?"  # must not replace the standard field
        return response


class ApiKeyGrant:
    """An extension grant: trade a (test-only) API key for an access token."""

    grant_type: ClassVar[str] = "urn:example:params:grant-type:api-key"
    parameters: ClassVar[frozenset[str]] = frozenset({"api_key", "scope"})

    def __init__(self, resources: ResourceStore):
        self._resources = resources

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        if request.parameters.get("api_key") != "key-for-" + client.client_id:
            raise InvalidGrant("unknown api_key")
        resources = await self._resources.find_api_resources_by_scope(["api:read"])
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=("api:read",),
            resources=tuple(resources),
            parameters=request.parameters,
            issued_token_type="urn:ietf:params:oauth:token-type:access_token",
        )


class ExtensionAwareGenerator(TokenResponseGenerator):
    async def process_extension_grant_request(
        self, request: ValidatedTokenRequest
    ) -> TokenResponse:
        response = await super().process_extension_grant_request(request)
        response.custom["grant_used"] = request.grant_type
        return response
