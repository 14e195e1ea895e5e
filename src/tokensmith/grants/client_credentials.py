"""client_credentials (RFC 6749 section 4.4): a client acting on its own behalf."""

from __future__ import annotations

from typing import ClassVar

from tokensmith.errors import UnauthorizedClient
from tokensmith.grants._steps import (
    audiences_for,
    check_client_may_use_grant,
    find_requested_resources,
    narrow_scopes_to_client,
    parse_scope,
)
from tokensmith.models.client import Client
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.stores.protocols import ResourceStore


class ClientCredentialsGrant:
    grant_type: ClassVar[str] = "client_credentials"
    parameters: ClassVar[frozenset[str]] = frozenset({"scope"})

    def __init__(self, resources: ResourceStore):
        self._resources = resources

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        # RFC 6749 section 4.4: "The client credentials grant type MUST only be
        # used by confidential clients."
        if client.is_public:
            raise UnauthorizedClient("public clients may not use client_credentials")
        check_client_may_use_grant(client, self.grant_type)
        targets = await find_requested_resources(request.resources, self._resources)
        requested = parse_scope(request.parameters.get("scope"))
        scopes = await narrow_scopes_to_client(requested, client, targets, self._resources)
        resources = await audiences_for(scopes, targets, self._resources)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(scopes),
            resources=tuple(resources),
            parameters=request.parameters,
        )
