"""The protected-claims rule, in one place.

Built-in claims are written by the server and can never be replaced by a
claims service or a custom-claims hook. Only an explicit override of
``TokenCreationService.create_payload`` may change them afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from tokensmith._types import Claims
from tokensmith.models.token import Token

logger = logging.getLogger(__name__)

PROTECTED_CLAIMS: Final[frozenset[str]] = frozenset(
    {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "azp",
        "auth_time", "acr", "amr", "sid", "nonce", "cnf", "at_hash", "c_hash",
    }
)  # fmt: skip


def merge_custom_claims(
    built_in: Mapping[str, Any], custom: Mapping[str, Any], *, log: bool = True
) -> tuple[Claims, list[str]]:
    """``custom`` then ``built_in`` on top; returns the merged claims and the names dropped.

    A custom claim is dropped when it names a protected claim or any claim the
    server set itself (a key of ``built_in``).
    """
    dropped = sorted(name for name in custom if name in PROTECTED_CLAIMS or name in built_in)
    if dropped and log:
        logger.warning("dropped custom claims that would override built-in claims: %s", dropped)
    merged: Claims = {name: value for name, value in custom.items() if name not in dropped}
    merged.update(built_in)
    return merged, dropped


def built_in_claims(token: Token) -> Claims:
    """The claims the server itself sets from the Token's fields, by token type."""
    claims: Claims = {"iss": token.issuer, "exp": token.expires_at, "iat": token.created_at}
    if token.subject_id is not None:
        claims["sub"] = token.subject_id
    if token.audiences:
        # RFC 7519 section 4.1.3: a single audience may be a plain string.
        claims["aud"] = token.audiences[0] if len(token.audiences) == 1 else list(token.audiences)
    if token.auth_time is not None:
        claims["auth_time"] = token.auth_time
    if token.token_type == "id_token":
        claims.update(_identity_claims(token))
    else:
        claims["jti"] = token.jti
        claims["client_id"] = token.client_id
        if token.scopes:
            claims["scope"] = " ".join(token.scopes)
    if token.confirmation is not None:
        claims["cnf"] = token.confirmation
    return claims


def _identity_claims(token: Token) -> Claims:
    claims: Claims = {}
    if token.nonce is not None:
        claims["nonce"] = token.nonce
    if token.session_id is not None:
        claims["sid"] = token.session_id
    if token.access_token_hash is not None:
        claims["at_hash"] = token.access_token_hash
    if len(token.audiences) > 1:
        # OIDC Core 2: azp is needed when the id_token has several audiences.
        claims["azp"] = token.client_id
    return claims
