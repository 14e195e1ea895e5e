"""POST /introspect: token introspection (RFC 7662), JSON or signed JWT (RFC 9701).

Who may learn what: the client a token was issued to; for access tokens also
the resource servers registered for one of its audiences. Anyone else, and
any token that is unknown, expired, revoked or malformed, gets only
``{"active": false}`` (RFC 7662 section 2.2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tokensmith._types import Claims
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.dpop.resource import confirmation_key
from tokensmith.dpop.token_binding import bound_key
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import NO_STORE, json_response
from tokensmith.errors import InvalidRequest, InvalidToken
from tokensmith.keys.compact_signing import sign_compact
from tokensmith.keys.manager import KeyManager
from tokensmith.models.client import Client
from tokensmith.models.grant import GrantKind, handle_key
from tokensmith.stores.protocols import GrantStore, ResourceStore
from tokensmith.tokens.validation import AccessTokenValidator, audiences_of, looks_like_jwt

INACTIVE: Claims = {"active": False}
JWT_MEDIA_TYPE = "application/token-introspection+jwt"


@dataclass(slots=True, frozen=True)
class IntrospectionEndpoint:
    issuer: str
    client_authentication: ClientAuthenticatorRegistry
    validator: AccessTokenValidator
    grants: GrantStore
    resources: ResourceStore
    keys: KeyManager
    max_request_bytes: int

    async def handle(self, request: Request) -> Response:
        form, _ = single_valued(await read_form(request, self.max_request_bytes), frozenset())
        client = await self.client_authentication.authenticate(request.headers, form)
        token = form.get("token")
        if token is None:
            raise InvalidRequest("token is required")
        # RFC 7662 section 2.1: the hint "MAY" be used to speed up the lookup;
        # it is never trusted to decide what the token is.
        if form.get("token_type_hint") == "refresh_token":
            result = await self._refresh_token(token, client) or await self._access(token, client)
        else:
            result = await self._access(token, client) or await self._refresh_token(token, client)
        body = result or INACTIVE
        if JWT_MEDIA_TYPE in request.headers.get("accept", ""):
            return self._jwt_response(body, client)
        return json_response(body)

    async def _access(self, token: str, client: Client) -> Claims | None:
        try:
            claims = await self.validator.validate(token, as_bearer=False)
        except InvalidToken:
            return None
        if not await self._may_see(claims, client):
            return None
        # RFC 9449 section 6.2: a bound token says so, and cnf.jkt (among the
        # claims) lets the resource server check the proof itself.
        token_type = "DPoP" if confirmation_key(claims) is not None else "Bearer"
        return {"active": True, "token_type": token_type, **claims}

    async def _may_see(self, claims: Claims, client: Client) -> bool:
        if claims.get("client_id") == client.client_id:
            return True
        for audience in audiences_of(claims):
            resource = await self.resources.find_api_resource(audience)
            if resource is not None and client.client_id in resource.introspecting_clients:
                return True
        return False

    async def _refresh_token(self, token: str, client: Client) -> Claims | None:
        if looks_like_jwt(token):
            return None
        record = await self.grants.find(handle_key(token), GrantKind.REFRESH_TOKEN)
        now = int(time.time())
        if record is None or not record.is_live(now) or record.consumed_at is not None:
            return None
        if record.client_id != client.client_id:
            return None
        return {
            "active": True,
            "token_type": "refresh_token",
            "iss": self.issuer,
            "client_id": record.client_id,
            "sub": record.subject_id,
            "scope": " ".join(record.data["scopes"]),
            "iat": record.created_at,
            "exp": record.expires_at,
            **({"cnf": {"jkt": jkt}} if (jkt := bound_key(record)) else {}),
        }

    def _jwt_response(self, body: Claims, client: Client) -> Response:
        """RFC 9701 section 5: the answer signed, for the client that asked."""
        key = self.keys.active
        header = {"alg": key.algorithm, "kid": key.kid, "typ": "token-introspection+jwt"}
        claims = {
            "iss": self.issuer,
            "aud": client.client_id,
            "iat": int(time.time()),
            "token_introspection": body,
        }
        value = sign_compact(header, orjson.dumps(claims), key)
        return Response(value, media_type=JWT_MEDIA_TYPE, headers=NO_STORE)
