"""Settings: one TOML file plus ``TOKENSMITH_*`` environment variables (see ``server``).

The package splits the model by section; everything is imported from here.
"""

from tokensmith.settings._common import ConfigError
from tokensmith.settings.clients import (
    CLIENT_ASSERTION_ALGORITHMS,
    CLIENT_SECRET_JWT_MIN_SECRET_BYTES,
    TOKEN_EXCHANGE_GRANT,
    ClientConfig,
    TokenExchangePolicyConfig,
)
from tokensmith.settings.loading import describe_validation_error
from tokensmith.settings.sections import (
    ApiResourceConfig,
    CustomClaimsConfig,
    HooksConfig,
    HookSourceConfig,
    PasswordHashingConfig,
    RateLimitsConfig,
    TrustedIssuerConfig,
    UserConfig,
)
from tokensmith.settings.server import Settings

__all__ = [
    "CLIENT_ASSERTION_ALGORITHMS",
    "CLIENT_SECRET_JWT_MIN_SECRET_BYTES",
    "TOKEN_EXCHANGE_GRANT",
    "ApiResourceConfig",
    "ClientConfig",
    "ConfigError",
    "CustomClaimsConfig",
    "HookSourceConfig",
    "HooksConfig",
    "PasswordHashingConfig",
    "RateLimitsConfig",
    "Settings",
    "TokenExchangePolicyConfig",
    "TrustedIssuerConfig",
    "UserConfig",
    "describe_validation_error",
]
