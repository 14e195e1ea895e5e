"""client_credentials (RFC 6749 section 4.4): a client acting on its own behalf."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from tokensmith.models.resource import ApiResource
from tokensmith.stores.protocols import ResourceStore

MAX_REMEMBERED = 1024
"""Beyond this many remembered (client, scope, resource) requests the memo starts over."""
MAX_REMEMBERED_INPUT = 512
"""Characters of scope and resource values beyond which a request is not remembered: the
memo's size stays bounded (at most about MAX_REMEMBERED times this), whatever is sent."""

_Key = tuple[int, str | None, tuple[str, ...]]


class _Grantable:
    """What a client was granted for one scope and resource request, and on what it rests."""

    __slots__ = ("audiences", "client", "generation", "scopes")

    def __init__(
        self,
        client: Client,
        generation: object,
        scopes: tuple[str, ...],
        audiences: tuple[ApiResource, ...],
    ):
        self.client = client
        self.generation = generation
        self.scopes = scopes
        self.audiences = audiences


class ClientCredentialsGrant:
    """The granted scopes and audiences depend only on the client record, the request's
    ``scope`` and ``resource`` values and the API resources. A service asks the same
    again and again, so with a resource store that says when its resources change
    (``generation``) the answer is remembered per client record and request: it was
    an eighth of a worker's instructions per cc_jwt token. Refusals are not
    remembered; each request still gets its own ``ValidatedTokenRequest``.
    """

    grant_type: ClassVar[str] = "client_credentials"
    parameters: ClassVar[frozenset[str]] = frozenset({"scope"})

    def __init__(self, resources: ResourceStore):
        self._resources = resources
        generation = getattr(resources, "generation", None)
        self._generation: Callable[[], Awaitable[object]] | None = generation
        self._remembered: dict[_Key, _Grantable] = {}

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        # RFC 6749 section 4.4: "The client credentials grant type MUST only be
        # used by confidential clients."
        if client.is_public:
            raise UnauthorizedClient("public clients may not use client_credentials")
        check_client_may_use_grant(client, self.grant_type)
        scope = request.parameters.get("scope")
        if self._generation is None or not _small(scope, request.resources):
            scopes, audiences = await self._grantable(request.resources, scope, client)
        else:
            generation = await self._generation()
            # The entry holds the client, so no other object can have its id meanwhile:
            # a changed client record (a new object) is a new key.
            key = (id(client), scope, request.resources)
            remembered = self._remembered.get(key)
            if remembered is not None and remembered.generation is generation:
                scopes, audiences = remembered.scopes, remembered.audiences
            else:
                scopes, audiences = await self._grantable(request.resources, scope, client)
                if len(self._remembered) >= MAX_REMEMBERED:
                    self._remembered.clear()
                self._remembered[key] = _Grantable(client, generation, scopes, audiences)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=scopes,
            resources=audiences,
            parameters=request.parameters,
        )

    async def _grantable(
        self, requested_resources: tuple[str, ...], scope: str | None, client: Client
    ) -> tuple[tuple[str, ...], tuple[ApiResource, ...]]:
        """The scopes granted and the APIs the token is for; InvalidScope or InvalidTarget."""
        targets = await find_requested_resources(requested_resources, self._resources)
        requested = parse_scope(scope)
        scopes = await narrow_scopes_to_client(requested, client, targets, self._resources)
        audiences = await audiences_for(scopes, targets, self._resources)
        return tuple(scopes), tuple(audiences)


def _small(scope: str | None, resources: tuple[str, ...]) -> bool:
    size = len(scope) if scope is not None else 0
    for resource in resources:
        size += len(resource)
    return size <= MAX_REMEMBERED_INPUT
