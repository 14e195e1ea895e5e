"""DPoP at a protected resource of ours (RFC 9449 section 7), e.g. userinfo.

A bound token (one with ``cnf.jkt``) is only accepted under the ``DPoP``
scheme with a proof, made for this request and this token (``ath``), by the
key it is bound to. Presented as a Bearer token it is refused (section 7.2),
so a stolen bound token is worth nothing without the private key.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from tokensmith._types import Claims
from tokensmith.dpop.errors import InvalidDpopBinding, InvalidDpopProof
from tokensmith.dpop.proof import DpopProofValidator

DPOP_SCHEME = "dpop"


def confirmation_key(claims: Claims) -> str | None:
    """The ``cnf.jkt`` of an access token's claims, if it is DPoP-bound."""
    confirmation = claims.get("cnf")
    if not isinstance(confirmation, dict):
        return None
    jkt = confirmation.get("jkt")
    return jkt if isinstance(jkt, str) else None


@dataclass(slots=True, frozen=True)
class DpopResourceGuard:
    proofs: DpopProofValidator
    url: str
    """The resource's public URL, what ``htu`` must say."""

    async def check(self, request: Request, scheme: str, token: str, claims: Claims) -> None:
        """Raise unless ``token`` (with these claims) may be used as it was presented."""
        bound_to = confirmation_key(claims)
        if scheme != DPOP_SCHEME:
            if bound_to is not None:
                raise InvalidDpopBinding("a DPoP-bound access token must be sent with a DPoP proof")
            return
        proof = await self.proofs.validate(
            request.headers, request.method, self.url, access_token=token
        )
        if proof is None:
            raise InvalidDpopProof("the DPoP scheme needs a DPoP proof")
        if bound_to is None:
            raise InvalidDpopBinding("the access token is not DPoP-bound")
        if proof.jkt != bound_to:
            raise InvalidDpopBinding(
                "the DPoP proof is signed by another key than the token is bound to"
            )

    def response_headers(self) -> dict[str, str]:
        return self.proofs.response_headers()
