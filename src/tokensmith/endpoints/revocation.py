"""POST /revoke: token revocation (RFC 7009).

A refresh token takes its whole family with it (every token issued from the
same authorization); an opaque access token is revoked alone. Self-contained
JWTs cannot be recalled and simply expire. Unknown tokens answer 200, as
section 2.2 requires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import audit_event, audit_refusal
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import NO_STORE
from tokensmith.errors import InvalidRequest, OAuthError, UnauthorizedClient
from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.stores.protocols import GrantStore

REVOCABLE = (GrantKind.REFRESH_TOKEN, GrantKind.ACCESS_TOKEN)


@dataclass(slots=True, frozen=True)
class RevocationEndpoint:
    client_authentication: ClientAuthenticatorRegistry
    grants: GrantStore
    max_request_bytes: int

    async def handle(self, request: Request) -> Response:
        try:
            return await self.revoke(request)
        except OAuthError as error:
            audit_refusal("token.revocation_refused", request, error)
            raise

    async def revoke(self, request: Request) -> Response:
        form, _ = single_valued(await read_form(request, self.max_request_bytes), frozenset())
        client = await self.client_authentication.authenticate(request.headers, form)
        token = form.get("token")
        if token is None:
            raise InvalidRequest("token is required")
        record = await self._find(token)
        if record is None:
            audit_event(
                "token.revoked", "unknown_token", request=request, client_id=client.client_id
            )
        else:
            await self._revoke(record, client.client_id)
            audit_event(
                "token.revoked",
                "success",
                request=request,
                client_id=client.client_id,
                subject=record.subject_id,
                token_type=record.kind.value,
                family=record.family_id is not None and record.kind is GrantKind.REFRESH_TOKEN,
            )
        return Response(status_code=200, headers=NO_STORE)

    async def _revoke(self, record: StoredGrant, client_id: str) -> None:
        # RFC 7009 section 2.1: the server "verifies whether the token was
        # issued to the client making the revocation request".
        if record.client_id != client_id:
            raise UnauthorizedClient("the token was not issued to this client")
        now = int(time.time())
        if record.kind is GrantKind.REFRESH_TOKEN and record.family_id is not None:
            await self.grants.revoke_family(record.family_id, now)
        else:
            await self.grants.revoke(record.key, now)

    async def _find(self, token: str) -> StoredGrant | None:
        key = handle_key(token)
        for kind in REVOCABLE:
            record = await self.grants.find(key, kind)
            if record is not None:
                return record
        return None
