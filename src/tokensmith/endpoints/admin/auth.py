"""Admin API authentication: tokensmith's own access tokens, for the admin API, with its scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import set_admin_actor
from tokensmith.endpoints._bearer import bearer_error, bearer_from_header, missing_token
from tokensmith.errors import InsufficientScope, OAuthError
from tokensmith.scopes import ADMIN_SCOPE
from tokensmith.tokens.validation import AccessTokenValidator

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(slots=True, frozen=True)
class AdminGuard:
    audience: str
    validator: AccessTokenValidator

    def protect(self, handler: Handler) -> Handler:
        """``handler`` behind a bearer token for the admin API carrying the admin scope."""

        async def guarded(request: Request) -> Response:
            try:
                token = bearer_from_header(request)
                if token is None:
                    return missing_token()
                claims = await self.validator.validate(token, self.audience)
                if ADMIN_SCOPE not in str(claims.get("scope", "")).split(" "):
                    raise InsufficientScope(f"the admin API needs the {ADMIN_SCOPE} scope")
            except OAuthError as exc:
                return bearer_error(exc)
            set_admin_actor(request, claims)
            return await handler(request)

        return guarded
