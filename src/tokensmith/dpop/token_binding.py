"""DPoP at the token endpoint (RFC 9449 section 5): which key the tokens are bound to.

The endpoint asks for the proof's key before the grant runs (so a bad proof
consumes no code or refresh token), and hands the grant's result back to
``bind``, which carries the key into the ``ValidatedTokenRequest`` once for
every grant: the access token gets ``cnf.jkt`` and the response says
``token_type: DPoP``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from starlette.requests import Request

from tokensmith.dpop.errors import InvalidDpopProof
from tokensmith.dpop.proof import DpopProofValidator
from tokensmith.errors import InvalidGrant
from tokensmith.models.client import Client
from tokensmith.models.grant import StoredGrant
from tokensmith.models.requests import ValidatedTokenRequest

BOUND_KEY: str = "dpop_jkt"
"""Where a code or refresh token record keeps the thumbprint it is bound to."""


def bound_key(grant: StoredGrant | None) -> str | None:
    """The key a code or refresh token is bound to, if any."""
    if grant is None:
        return None
    value = grant.data.get(BOUND_KEY)
    return value if isinstance(value, str) else None


def check_same_key(grant: StoredGrant | None, jkt: str | None, what: str) -> None:
    """A bound code or refresh token is only good with a proof by the same key."""
    expected = bound_key(grant)
    if expected is not None and expected != jkt:
        raise InvalidGrant(f"the {what} is bound to a DPoP key; send a proof signed by that key")


@dataclass(slots=True, frozen=True)
class DpopTokenBinding:
    proofs: DpopProofValidator
    token_endpoint: str
    """The token endpoint's public URL, what ``htu`` must say."""

    async def proof_key(self, request: Request, client: Client) -> str | None:
        """The thumbprint of the request's valid proof; None without one (if allowed)."""
        proof = await self.proofs.validate(request.headers, request.method, self.token_endpoint)
        if proof is None:
            if client.dpop_bound_access_tokens:
                # RFC 9449 section 5.2: such a client's tokens are always DPoP-bound.
                raise InvalidDpopProof("this client must send a DPoP proof")
            return None
        return proof.jkt

    def bind(self, validated: ValidatedTokenRequest, jkt: str | None) -> ValidatedTokenRequest:
        """The validated request, carrying the proof's key for the token pipeline."""
        check_same_key(validated.source_grant, jkt, "grant")
        if jkt is None:
            return validated
        return dataclasses.replace(validated, dpop_jkt=jkt)

    def response_headers(self) -> dict[str, str]:
        return self.proofs.response_headers()
