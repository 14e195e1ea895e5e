"""The two DPoP error codes (RFC 9449 sections 5, 7.1 and 8)."""

from __future__ import annotations

from tokensmith.errors import InvalidToken, OAuthError


class InvalidDpopProof(OAuthError):
    """RFC 9449 section 5: the DPoP proof is missing where required, or is not valid."""

    error = "invalid_dpop_proof"


class UseDpopNonce(OAuthError):
    """RFC 9449 section 8: send the proof again with the nonce in the ``DPoP-Nonce`` header."""

    error = "use_dpop_nonce"


class InvalidDpopBinding(InvalidToken):
    """RFC 9449 section 7.1: the token and the proof do not go together (``invalid_token``).

    A bound token sent as a Bearer token, an unbound one sent as DPoP, or a
    proof by another key. Its own class so the answer's challenge is DPoP's.
    """


DPOP_ERRORS: tuple[type[OAuthError], ...] = (InvalidDpopProof, UseDpopNonce, InvalidDpopBinding)
"""The errors a resource answers with the ``DPoP`` challenge."""
