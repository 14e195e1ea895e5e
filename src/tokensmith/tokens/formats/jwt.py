"""JWT access tokens (RFC 9068): self-contained, signed by the TokenCreationService."""

from __future__ import annotations

from typing import ClassVar

from tokensmith.models.token import Token
from tokensmith.tokens.creation import TokenCreationService


class JwtAccessTokenFormat:
    name: ClassVar[str] = "jwt"

    def __init__(self, token_creation: TokenCreationService):
        self._token_creation = token_creation

    async def issue(self, token: Token) -> str:
        return await self._token_creation.create_token(token)
