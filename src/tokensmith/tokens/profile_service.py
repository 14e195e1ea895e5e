"""ProfileService: the user claims released by the granted identity scopes.

Used for the id_token and for userinfo. Replace it to read claims from
another directory or to release claims by other rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from tokensmith._types import Claims
from tokensmith.models.user import User
from tokensmith.scopes import IDENTITY_SCOPE_CLAIMS


class ProfileService(Protocol):
    """What id_tokens, userinfo and the grants ask of the stage; replace with ``Services``."""

    async def get_profile_claims(self, user: User, scopes: Iterable[str]) -> Claims: ...

    async def is_active(self, user: User) -> bool: ...


class DefaultProfileService:
    async def get_profile_claims(self, user: User, scopes: Iterable[str]) -> Claims:
        """The claims of ``user`` that ``scopes`` release (OIDC Core 5.4); always ``sub``."""
        available = self.available_claims(user)
        claims: Claims = {"sub": user.subject_id}
        for scope in scopes:
            for name in IDENTITY_SCOPE_CLAIMS.get(scope, ()):
                if name in available:
                    claims[name] = available[name]
        return claims

    def available_claims(self, user: User) -> Claims:
        claims: Claims = dict(user.profile)
        claims.setdefault("preferred_username", user.username)
        claims["updated_at"] = user.updated_at
        if user.email is not None:
            claims["email"] = user.email
            claims["email_verified"] = user.email_verified
        return claims

    async def is_active(self, user: User) -> bool:
        """Whether tokens may still be issued for ``user`` (checked on every grant)."""
        return user.enabled
