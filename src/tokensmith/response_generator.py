"""TokenResponseGenerator: turns a validated request into a TokenResponse.

``process`` dispatches on the grant type to one overridable method per
built-in grant, and to ``process_extension_grant_request`` for any other, so
a subclass changes one grant's response without touching the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from tokensmith.errors import ServerError
from tokensmith.models.requests import ValidatedTokenRequest
from tokensmith.models.responses import TokenResponse
from tokensmith.models.token import Token
from tokensmith.scopes import OFFLINE_ACCESS, OPENID
from tokensmith.settings import Settings
from tokensmith.tokens.creation import TokenCreationService
from tokensmith.tokens.formats.base import AccessTokenFormat
from tokensmith.tokens.refresh_token_service import DefaultRefreshTokenService
from tokensmith.tokens.token_service import TokenService

logger = logging.getLogger(__name__)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CIBA_GRANT = "urn:openid:params:grant-type:ciba"

Handler = Callable[[ValidatedTokenRequest], Awaitable[TokenResponse]]


class TokenResponseGenerator:
    def __init__(
        self,
        settings: Settings,
        token_service: TokenService,
        token_creation: TokenCreationService,
        refresh_token_service: DefaultRefreshTokenService,
        access_token_formats: Mapping[str, AccessTokenFormat],
    ):
        self.settings = settings
        self.token_service = token_service
        self.token_creation = token_creation
        self.refresh_token_service = refresh_token_service
        self.access_token_formats = access_token_formats
        self._handlers: dict[str, Handler] = {
            "client_credentials": self.process_client_credentials_request,
            "password": self.process_password_request,
            "authorization_code": self.process_authorization_code_request,
            "refresh_token": self.process_refresh_token_request,
            DEVICE_CODE_GRANT: self.process_device_code_request,
            CIBA_GRANT: self.process_ciba_request,
        }

    async def process(self, request: ValidatedTokenRequest) -> TokenResponse:
        handler = self._handlers.get(request.grant_type, self.process_extension_grant_request)
        response = await handler(request)
        if request.dpop_jkt is not None and response.access_token is not None:
            response.token_type = "DPoP"  # RFC 9449 section 5
        return response

    async def process_client_credentials_request(
        self, request: ValidatedTokenRequest
    ) -> TokenResponse:
        return await self.process_token_request(request)

    async def process_password_request(self, request: ValidatedTokenRequest) -> TokenResponse:
        response = await self.process_token_request(request)
        response.refresh_token = await self.create_refresh_token(request)
        return response

    async def process_authorization_code_request(
        self, request: ValidatedTokenRequest
    ) -> TokenResponse:
        response = await self.process_token_request(request)
        response.refresh_token = await self.create_refresh_token(request)
        if OPENID in request.scopes:
            response.identity_token = await self.create_identity_token(
                request, response.access_token
            )
        return response

    async def process_refresh_token_request(self, request: ValidatedTokenRequest) -> TokenResponse:
        response = await self.process_token_request(request)
        if request.client.refresh_token_rotation:
            # The old token was consumed: its successor carries the family on.
            response.refresh_token = await self.refresh_token_service.create_refresh_token(request)
        else:
            response.refresh_token = request.parameters["refresh_token"]
        response.identity_token = await self.create_id_token_from_refresh_token_request(
            request, response.access_token
        )
        return response

    async def process_device_code_request(self, request: ValidatedTokenRequest) -> TokenResponse:
        return await self.process_authorization_code_request(request)

    async def process_ciba_request(self, request: ValidatedTokenRequest) -> TokenResponse:
        return await self.process_authorization_code_request(request)

    async def process_extension_grant_request(
        self, request: ValidatedTokenRequest
    ) -> TokenResponse:
        response = await self.process_token_request(request)
        response.issued_token_type = request.issued_token_type
        return response

    async def process_token_request(self, request: ValidatedTokenRequest) -> TokenResponse:
        """The shared part: an access token for the granted scopes."""
        token, value = await self.create_access_token(request)
        return TokenResponse(
            access_token=value,
            access_token_lifetime=token.lifetime,
            scope=" ".join(token.scopes) or None,
        )

    def should_issue_refresh_token(self, request: ValidatedTokenRequest) -> bool:
        """Only to clients allowed the grant, when offline_access was granted or always is set."""
        client = request.client
        if "refresh_token" not in client.grant_types or request.user is None:
            return False
        return OFFLINE_ACCESS in request.scopes or client.always_issue_refresh_token

    async def create_refresh_token(self, request: ValidatedTokenRequest) -> str | None:
        if not self.should_issue_refresh_token(request):
            return None
        return await self.refresh_token_service.create_refresh_token(request)

    async def create_identity_token(
        self, request: ValidatedTokenRequest, access_token: str | None
    ) -> str:
        token = await self.token_service.create_identity_token(request, access_token)
        return await self.token_creation.create_token(token)

    async def create_access_token(self, request: ValidatedTokenRequest) -> tuple[Token, str]:
        """Build the Token, serialise it in its format, and check it against the size budget."""
        token = await self.token_service.create_access_token(request)
        access_token_format = self.access_token_formats.get(token.access_token_format)
        if access_token_format is None:
            raise ServerError(f"no access token format {token.access_token_format!r}")
        value = await access_token_format.issue(token)
        self.check_token_size(value, request)
        return token, value

    async def create_id_token_from_refresh_token_request(
        self, request: ValidatedTokenRequest, access_token: str | None = None
    ) -> str | None:
        """A fresh id_token when the refreshed grant includes ``openid``; None otherwise."""
        if OPENID not in request.scopes or request.user is None:
            return None
        return await self.create_identity_token(request, access_token)

    def check_token_size(self, value: str, request: ValidatedTokenRequest) -> None:
        """Warn about (or refuse) a token over the configured budget.

        Large tokens break proxies and header limits downstream, usually far
        from the place that made them large.
        """
        size = len(value)
        budget = self.settings.token_size_budget
        if size <= budget:
            return
        client_id = request.client.client_id
        if self.settings.oversize_token_action == "refuse":
            logger.error(
                "refused a %d-byte token for client %s (budget %d)", size, client_id, budget
            )
            raise ServerError(f"the token would be {size} bytes, over the budget of {budget}")
        logger.warning("issued a %d-byte token for client %s (budget %d)", size, client_id, budget)
