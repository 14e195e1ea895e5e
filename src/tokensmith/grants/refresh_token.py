"""refresh_token (RFC 6749 section 6), with rotation and reuse detection (RFC 9700 4.14.2)."""

from __future__ import annotations

import time
from typing import ClassVar

from tokensmith.dpop.token_binding import check_same_key
from tokensmith.errors import InvalidGrant, InvalidRequest
from tokensmith.grants._steps import (
    check_client_may_use_grant,
    consume_once,
    find_active_user,
    narrow_to_original,
    parse_scope,
    resources_by_audience,
)
from tokensmith.grants._user_grant import StoredUserGrant
from tokensmith.models.client import Client
from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest


class RefreshTokenGrant(StoredUserGrant):
    grant_type: ClassVar[str] = "refresh_token"
    parameters: ClassVar[frozenset[str]] = frozenset({"refresh_token", "scope"})

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        handle = request.parameters.get("refresh_token")
        if handle is None:
            raise InvalidRequest("refresh_token is required")
        if client.refresh_token_rotation:
            if client.is_public:
                # Only public clients' tokens are DPoP-bound; one is checked before
                # it is consumed, so a thief without the key cannot use it up.
                check_same_key(await self._find(handle), request.dpop_jkt, "refresh token")
            grant = await consume_once(
                self._grants, handle, GrantKind.REFRESH_TOKEN, client, "refresh token"
            )
        else:
            grant = await self._find_reusable(handle, client)
        check_same_key(grant, request.dpop_jkt, "refresh token")
        scopes = narrow_to_original(
            parse_scope(request.parameters.get("scope")), grant.data["scopes"]
        )
        user = await find_active_user(self._users, self._profile_service, grant.subject_id)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(scopes),
            resources=tuple(await resources_by_audience(grant.data["resources"], self._resources)),
            parameters=request.parameters,
            user=user,
            session_id=grant.session_id,
            auth_time=grant.data.get("auth_time"),
            grant_family=grant.family_id,
            source_grant=grant,
        )

    async def _find(self, handle: str) -> StoredGrant | None:
        return await self._grants.find(handle_key(handle), GrantKind.REFRESH_TOKEN)

    async def _find_reusable(self, handle: str, client: Client) -> StoredGrant:
        grant = await self._find(handle)
        if grant is None or grant.client_id != client.client_id:
            raise InvalidGrant("unknown refresh token")
        if not grant.is_live(int(time.time())):
            raise InvalidGrant("refresh token has expired or was revoked")
        return grant
