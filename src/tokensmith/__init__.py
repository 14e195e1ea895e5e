"""tokensmith: an OAuth 2.0 / OpenID Connect authorization server with a replaceable pipeline."""

from tokensmith.app import create_app
from tokensmith.errors import OAuthError
from tokensmith.grants.base import ExtensionGrantValidator, GrantValidator
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.models.responses import TokenResponse
from tokensmith.models.token import Token
from tokensmith.response_generator import TokenResponseGenerator
from tokensmith.services import Services
from tokensmith.settings import ConfigError, Settings
from tokensmith.tokens.claims_service import ClaimsService, DefaultClaimsService
from tokensmith.tokens.creation import DefaultTokenCreationService, TokenCreationService
from tokensmith.tokens.profile_service import DefaultProfileService, ProfileService
from tokensmith.tokens.token_service import TokenService

__all__ = [
    "ClaimsService",
    "ConfigError",
    "DefaultClaimsService",
    "DefaultProfileService",
    "DefaultTokenCreationService",
    "ExtensionGrantValidator",
    "GrantValidator",
    "OAuthError",
    "ProfileService",
    "Services",
    "Settings",
    "Token",
    "TokenCreationService",
    "TokenRequest",
    "TokenResponse",
    "TokenResponseGenerator",
    "TokenService",
    "ValidatedTokenRequest",
    "create_app",
]
