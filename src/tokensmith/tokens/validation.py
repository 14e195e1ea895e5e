"""Reading this server's own access tokens back (userinfo, introspection).

JWTs are checked by signature and claims; opaque handles are looked up.
"""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.errors import JoseError

from tokensmith._types import Claims
from tokensmith.errors import InvalidToken
from tokensmith.keys.manager import KeyManager
from tokensmith.tokens.creation import ACCESS_TOKEN_JWT_TYPE
from tokensmith.tokens.formats.opaque import OpaqueAccessTokenFormat


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2


class AccessTokenValidator:
    def __init__(self, issuer: str, keys: KeyManager, opaque: OpaqueAccessTokenFormat):
        self._issuer = issuer
        self._keys = keys
        self._opaque = opaque

    async def validate(
        self, value: str, audience: str | None = None, *, as_bearer: bool = True
    ) -> Claims:
        """The claims of a live access token of ours, JWT or opaque; raises InvalidToken.

        ``as_bearer``: the token is being used as a bearer token, with no proof
        of possession, so a DPoP-bound one (``cnf``) is refused (RFC 9449
        section 7.2). Callers that check the proof themselves, or only describe
        the token (introspection), pass False.
        """
        if looks_like_jwt(value):
            claims = self.validate_jwt(value)
        else:
            found = await self._opaque.resolve(value)
            if found is None:
                raise InvalidToken("the access token is unknown, expired or revoked")
            claims = found
        if audience is not None and audience not in audiences_of(claims):
            raise InvalidToken("the access token is not meant for this endpoint")
        if as_bearer and "cnf" in claims:
            raise InvalidToken("a sender-constrained access token needs its proof of possession")
        return claims

    def validate_jwt(self, value: str) -> Claims:
        """The claims of a live RFC 9068 access token signed by one of our keys."""
        try:
            decoded = jwt.decode(
                value, self._keys.verification_keys, algorithms=self._keys.algorithms
            )
        except (JoseError, ValueError, TypeError):
            raise InvalidToken("the access token is malformed or its signature is wrong") from None
        if decoded.header.get("typ") != ACCESS_TOKEN_JWT_TYPE:
            raise InvalidToken("not an access token")
        claims = decoded.claims
        if claims.get("iss") != self._issuer:
            raise InvalidToken("the access token was issued by another server")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= int(time.time()):
            raise InvalidToken("the access token has expired")
        return claims


def audiences_of(claims: Claims) -> list[str]:
    audiences = claims.get("aud")
    if isinstance(audiences, list):
        return [str(a) for a in audiences]
    return [audiences] if isinstance(audiences, str) else []
