"""Opaque access tokens: the issue time and 256 random bits; the claims stay on the server.

Only the handle's SHA-256 is stored, with the full claim set (built by the
same ``create_payload`` a JWT would get, custom claims included) and the
expiry. Introspection and userinfo resolve the handle; revoking the token's
grant family revokes it too.
"""

from __future__ import annotations

import time
from typing import ClassVar

from tokensmith._types import Claims
from tokensmith.models.grant import GrantKind, StoredGrant, handle_key, new_handle
from tokensmith.models.token import Token
from tokensmith.stores.protocols import GrantStore
from tokensmith.tokens.creation import DefaultTokenCreationService


class OpaqueAccessTokenFormat:
    name: ClassVar[str] = "opaque"

    def __init__(self, token_creation: DefaultTokenCreationService, grants: GrantStore):
        self._token_creation = token_creation
        self._grants = grants

    async def issue(self, token: Token) -> str:
        handle = new_handle()
        payload = await self._token_creation.create_payload(token)
        await self._grants.save(
            StoredGrant(
                key=handle_key(handle),
                kind=GrantKind.ACCESS_TOKEN,
                client_id=token.client_id,
                subject_id=token.subject_id,
                family_id=token.grant_family,
                session_id=token.session_id,
                created_at=token.created_at,
                expires_at=token.expires_at,
                data={"claims": payload},
            )
        )
        return handle

    async def resolve(self, handle: str) -> Claims | None:
        """The stored claims of a live token; None when unknown, expired or revoked."""
        record = await self._grants.find(handle_key(handle), GrantKind.ACCESS_TOKEN)
        if record is None or not record.is_live(int(time.time())):
            return None
        claims: Claims = record.data["claims"]
        return claims
