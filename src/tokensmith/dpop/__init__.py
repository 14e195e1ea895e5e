"""DPoP: sender-constrained tokens by proof of possession (RFC 9449).

``DpopProofValidator`` checks one proof; ``DpopTokenBinding`` binds tokens at
the token endpoint; ``DpopResourceGuard`` enforces the binding where our own
tokens are used (userinfo). ``dpop_proofs`` builds the validator from the
settings, one per app, shared by all of them.
"""

from __future__ import annotations

from tokensmith.dpop.errors import InvalidDpopProof, UseDpopNonce
from tokensmith.dpop.nonce import DpopNonces
from tokensmith.dpop.proof import DpopProof, DpopProofValidator, access_token_hash
from tokensmith.dpop.resource import DpopResourceGuard, confirmation_key
from tokensmith.dpop.secret import nonce_secret
from tokensmith.dpop.token_binding import DpopTokenBinding
from tokensmith.settings import Settings
from tokensmith.stores.protocols import GrantStore

__all__ = [
    "DpopNonces",
    "DpopProof",
    "DpopProofValidator",
    "DpopResourceGuard",
    "DpopTokenBinding",
    "InvalidDpopProof",
    "UseDpopNonce",
    "access_token_hash",
    "confirmation_key",
    "dpop_proofs",
]


def dpop_proofs(settings: Settings, grants: GrantStore) -> DpopProofValidator:
    return DpopProofValidator(
        grants,
        algorithms=settings.dpop_signing_algorithms,
        lifetime=settings.dpop_proof_lifetime,
        nonces=DpopNonces(lambda: nonce_secret(settings)),
        require_nonce=settings.dpop_require_nonce,
    )
