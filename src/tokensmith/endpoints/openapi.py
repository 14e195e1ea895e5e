"""GET /openapi.json: the OpenAPI document, without authentication (it holds no secret)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.grants.base import GrantRegistry
from tokensmith.openapi import openapi_document
from tokensmith.settings import Settings


class OpenApiEndpoint:
    def __init__(
        self,
        settings: Settings,
        grants: GrantRegistry,
        client_authentication: ClientAuthenticatorRegistry,
    ):
        self._document = orjson.dumps(
            openapi_document(settings.issuer_url, grants.grant_types, client_authentication.methods)
        )

    async def handle(self, request: Request) -> Response:
        return Response(self._document, media_type="application/json")
