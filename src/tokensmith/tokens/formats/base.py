"""The AccessTokenFormat protocol: how a Token becomes the string a client holds."""

from __future__ import annotations

from typing import ClassVar, Protocol

from tokensmith.models.token import Token


class AccessTokenFormat(Protocol):
    name: ClassVar[str]

    async def issue(self, token: Token) -> str: ...
