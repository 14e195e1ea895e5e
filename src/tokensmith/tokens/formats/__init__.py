"""Access token formats: strategies chosen per client or API resource."""

from tokensmith.tokens.formats.base import AccessTokenFormat
from tokensmith.tokens.formats.jwt import JwtAccessTokenFormat

__all__ = ["AccessTokenFormat", "JwtAccessTokenFormat"]
