"""RefreshTokenService: opaque refresh tokens, stored as hashes, in families.

Every refresh token descends from one authorization (a family). Rotation
issues a new token per use; presenting a used one is a sign of theft, and
the whole family is revoked (RFC 9700 section 4.14.2).
"""

from __future__ import annotations

import time
import uuid

from tokensmith.models.grant import GrantKind, StoredGrant, handle_key, new_handle
from tokensmith.models.requests import ValidatedTokenRequest
from tokensmith.settings import Settings
from tokensmith.stores.protocols import GrantStore


class DefaultRefreshTokenService:
    def __init__(self, settings: Settings, grants: GrantStore):
        self.settings = settings
        self.grants = grants

    async def create_refresh_token(self, request: ValidatedTokenRequest) -> str:
        """A new refresh token in the request's family (a new family if it has none)."""
        now = int(time.time())
        previous = request.source_grant
        scopes = list(request.scopes)
        resources = [resource.audience for resource in request.resources]
        if previous is not None and previous.kind is GrantKind.REFRESH_TOKEN:
            absolute_expiry = int(previous.data["absolute_expires_at"])
            # RFC 6749 section 6: a new refresh token's scope "MUST be identical"
            # to the old one's, even when this request narrowed the access token.
            scopes, resources = previous.data["scopes"], previous.data["resources"]
        else:
            absolute_expiry = now + self.settings.refresh_token_absolute_lifetime
        handle = new_handle()
        await self.grants.save(
            StoredGrant(
                key=handle_key(handle),
                kind=GrantKind.REFRESH_TOKEN,
                client_id=request.client.client_id,
                subject_id=request.subject_id,
                family_id=request.grant_family or uuid.uuid4().hex,
                session_id=request.session_id,
                created_at=now,
                # Sliding: each use extends the life, never past the family's absolute end.
                expires_at=min(now + self.settings.refresh_token_sliding_lifetime, absolute_expiry),
                data={
                    "scopes": scopes,
                    "resources": resources,
                    "auth_time": request.auth_time,
                    "absolute_expires_at": absolute_expiry,
                    "dpop_jkt": self.bound_key(request),
                },
            )
        )
        return handle

    def bound_key(self, request: ValidatedTokenRequest) -> str | None:
        """RFC 9449 section 5: a public client's refresh token is bound to its DPoP key.

        A confidential client authenticates every refresh, so its refresh
        tokens stay unbound and it may change keys; a public client has only
        the key to prove the token is its own.
        """
        return request.dpop_jkt if request.client.is_public else None
