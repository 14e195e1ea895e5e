"""tokensmith: an OAuth 2.0 / OpenID Connect authorization server with a replaceable pipeline."""

from tokensmith.app import create_app
from tokensmith.errors import OAuthError
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.models.responses import TokenResponse
from tokensmith.models.token import Token
from tokensmith.response_generator import TokenResponseGenerator
from tokensmith.services import Services
from tokensmith.settings import ConfigError, Settings
from tokensmith.tokens.claims_service import DefaultClaimsService
from tokensmith.tokens.creation import DefaultTokenCreationService
from tokensmith.tokens.token_service import TokenService

__all__ = [
    "ConfigError",
    "DefaultClaimsService",
    "DefaultTokenCreationService",
    "OAuthError",
    "Services",
    "Settings",
    "Token",
    "TokenRequest",
    "TokenResponse",
    "TokenResponseGenerator",
    "TokenService",
    "ValidatedTokenRequest",
    "create_app",
]
