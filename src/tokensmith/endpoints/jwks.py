"""GET /.well-known/jwks.json: the public signing keys (RFC 7517 section 5)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.keys.manager import KeyManager


@dataclass(slots=True, frozen=True)
class JwksEndpoint:
    keys: KeyManager

    async def handle(self, request: Request) -> Response:
        return Response(
            self.keys.jwks_json,
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "public, max-age=300"},
        )
