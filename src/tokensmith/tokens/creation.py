"""TokenCreationService: Token -> signed JWT, the last stage before the wire.

``create_token`` is a template method: ``create_header``, ``create_payload``,
``sign``. Override one to change one thing; ``create_payload`` is the last
place anything about a token can be altered, built-in claims included.
"""

from __future__ import annotations

from typing import Protocol

import orjson

from tokensmith._types import Claims, JSONObject
from tokensmith.keys.manager import KeyManager, SigningKey
from tokensmith.keys.signing_turns import SigningTurns
from tokensmith.models.token import Token
from tokensmith.tokens.claims import built_in_claims

# RFC 9068 section 2.1: access tokens "MUST include this media type [at+jwt]
# in the typ header parameter".
ACCESS_TOKEN_JWT_TYPE = "at+jwt"


class TokenCreationService(Protocol):
    async def create_token(self, token: Token) -> str: ...


class DefaultTokenCreationService:
    def __init__(self, keys: KeyManager, signing_turns: SigningTurns | None = None):
        """``signing_turns``: the app's (``signing_process`` setting), else one signing here."""
        self.keys = keys
        self.signing_turns = signing_turns if signing_turns is not None else SigningTurns()

    async def create_token(self, token: Token) -> str:
        key = self.keys.active
        header = await self.create_header(token, key)
        payload = await self.create_payload(token)
        return await self.sign(header, payload, key)

    async def create_header(self, token: Token, key: SigningKey) -> JSONObject:
        header: JSONObject = {"alg": key.algorithm, "kid": key.kid}
        if token.token_type == "access_token":
            header["typ"] = ACCESS_TOKEN_JWT_TYPE
        return header

    async def create_payload(self, token: Token) -> Claims:
        """The claim set: extra claims first, built-in claims written over them."""
        payload: Claims = dict(token.claims)
        payload.update(self.built_in_claims(token))
        return payload

    def built_in_claims(self, token: Token) -> Claims:
        """The claims the server sets itself; see ``tokens.claims.built_in_claims``."""
        return built_in_claims(token)

    async def sign(self, header: JSONObject, payload: Claims, key: SigningKey) -> str:
        """The compact JWS, signed with the turn's other tokens (``keys/signing_turns.py``)."""
        return await self.signing_turns.sign(header, orjson.dumps(payload), key)
