"""The OpenID Connect identity scopes and the claims each one releases (OIDC Core 5.4)."""

from __future__ import annotations

from typing import Final

OPENID: Final = "openid"
OFFLINE_ACCESS: Final = "offline_access"

IDENTITY_SCOPE_CLAIMS: Final[dict[str, tuple[str, ...]]] = {
    "openid": ("sub",),
    "profile": (
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}  # fmt: skip

IDENTITY_SCOPES: Final[frozenset[str]] = frozenset({*IDENTITY_SCOPE_CLAIMS, OFFLINE_ACCESS})
"""Scopes the server itself understands; every other scope belongs to an API resource."""

STANDARD_PROFILE_CLAIMS: Final[frozenset[str]] = frozenset(
    claim for claims in IDENTITY_SCOPE_CLAIMS.values() for claim in claims
) - {"sub", "email", "email_verified"}

ADMIN_SCOPE: Final = "tokensmith:admin"
"""Grants access to the admin API; a client must list it to be given it."""
