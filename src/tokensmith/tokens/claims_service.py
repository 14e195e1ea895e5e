"""ClaimsService: the claims a token carries beyond the built-in ones.

The default adds nothing for client_credentials tokens; it is the seam for
scope- and resource-driven claims. Whatever it returns goes through
``merge_custom_claims``, so it cannot replace a built-in claim.
"""

from __future__ import annotations

from typing import Protocol

from tokensmith._types import Claims
from tokensmith.models.requests import ValidatedTokenRequest


class ClaimsService(Protocol):
    """What TokenService asks of the stage; ``Services(claims_service=...)`` replaces it."""

    async def get_access_token_claims(self, request: ValidatedTokenRequest) -> Claims: ...


class DefaultClaimsService:
    async def get_access_token_claims(self, request: ValidatedTokenRequest) -> Claims:
        """Extra claims for the access token of ``request``."""
        return {}
