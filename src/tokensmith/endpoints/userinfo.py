"""GET/POST /userinfo (OIDC Core 5.3): Bearer tokens (RFC 6750) and DPoP (RFC 9449)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.dpop.errors import DPOP_ERRORS
from tokensmith.dpop.resource import DpopResourceGuard
from tokensmith.endpoints._bearer import (
    BEARER,
    DPOP,
    PresentedToken,
    bearer_error,
    missing_token,
    token_from_header,
)
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import json_response
from tokensmith.errors import InsufficientScope, InvalidRequest, InvalidToken, OAuthError
from tokensmith.scopes import OPENID
from tokensmith.stores.protocols import UserStore
from tokensmith.tokens.profile_service import ProfileService
from tokensmith.tokens.validation import AccessTokenValidator


@dataclass(slots=True, frozen=True)
class UserinfoEndpoint:
    audience: str
    validator: AccessTokenValidator
    users: UserStore
    profile_service: ProfileService
    dpop: DpopResourceGuard | None = None

    async def handle(self, request: Request) -> Response:
        presented: PresentedToken | None = None
        try:
            presented = await self._presented_token(request)
            if presented is None:
                return missing_token()
            # The DPoP guard enforces any binding itself, with the DPoP error codes.
            checks_binding = self.dpop is not None
            claims = await self.validator.validate(
                presented.token, self.audience, as_bearer=not checks_binding
            )
            if self.dpop is not None:
                await self.dpop.check(request, presented.scheme, presented.token, claims)
            if OPENID not in str(claims.get("scope", "")).split(" "):
                raise InsufficientScope("the access token was not granted openid")
            user = await self.users.find_user_by_subject(str(claims.get("sub")))
            if user is None or not await self.profile_service.is_active(user):
                raise InvalidToken("the user is no longer active")
        except OAuthError as exc:
            return self._error(exc, presented)
        scopes = str(claims["scope"]).split(" ")
        profile = await self.profile_service.get_profile_claims(user, scopes)
        return json_response(profile, headers=self._dpop_headers(presented))

    async def _presented_token(self, request: Request) -> PresentedToken | None:
        schemes = (BEARER, DPOP) if self.dpop is not None else (BEARER,)
        header_token = token_from_header(request, schemes)
        form_token = None
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            form, _ = single_valued(await read_form(request, 16 * 1024), frozenset())
            form_token = form.get("access_token")
        if header_token is not None and form_token is not None:
            # RFC 6750 section 2: clients MUST NOT use more than one method.
            raise InvalidRequest("the access token was sent in more than one way")
        if form_token is not None:
            return PresentedToken(form_token, BEARER)  # the form is a Bearer-only method
        return header_token

    def _error(self, error: OAuthError, presented: PresentedToken | None) -> Response:
        """The Bearer challenge, or the DPoP one when DPoP is what went wrong (RFC 9449 7.1)."""
        if self.dpop is None:
            return bearer_error(error)
        dpop_scheme = presented is not None and presented.scheme == DPOP
        if not dpop_scheme and not isinstance(error, DPOP_ERRORS):
            return bearer_error(error)
        return bearer_error(
            error,
            dpop_algorithms=self.dpop.proofs.algorithms,
            headers=self._dpop_headers(presented),
        )

    def _dpop_headers(self, presented: PresentedToken | None) -> dict[str, str] | None:
        if self.dpop is None or presented is None or presented.scheme != DPOP:
            return None
        return self.dpop.response_headers()
