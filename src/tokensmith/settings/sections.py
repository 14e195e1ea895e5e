"""The smaller sections: APIs, trusted issuers, users, hooks, password hashing, rate limits."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    Field,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

from tokensmith.ratelimit.rates import parse_rate
from tokensmith.settings._common import _IMPORT_STRING, _Section
from tokensmith.settings.clients import TokenFormat
from tokensmith.trust import public_key_set

# RFC 9449 section 4.2: asymmetric algorithms only, never "none" or a MAC.
DpopAlgorithm = Literal[
    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
    "EdDSA", "Ed25519",
]  # fmt: skip
_DEFAULT_DPOP_ALGORITHMS: list[DpopAlgorithm] = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]


class ApiResourceConfig(_Section):
    """An API that accepts access tokens, and the scopes it owns."""

    audience: str = Field(min_length=1)
    name: str | None = None
    scopes: list[str] = Field(default_factory=list)
    access_token_format: TokenFormat = "jwt"
    introspecting_clients: list[str] = Field(default_factory=list)
    """Resource servers (client ids) that may introspect tokens for this API."""


class TrustedIssuerConfig(_Section):
    """``[[trusted_issuers]]``: an issuer whose signed JWTs are accepted (RFC 7523, RFC 8693)."""

    issuer: str = Field(min_length=1)
    jwks: dict[str, Any]
    """The issuer's public keys, as an inline JWK Set (``{ keys = [...] }``)."""
    algorithms: list[str] | None = None
    """Signing algorithms accepted; by default every one the keys' types allow."""
    allow_unknown_subjects: bool = False
    """Issue tokens for a ``sub`` that is none of our users (else invalid_grant)."""

    @model_validator(mode="after")
    def _usable_keys(self) -> Self:
        public_key_set(self.jwks, self.algorithms)
        return self


class UserConfig(_Section):
    """A user for development and tests (used by the user flows)."""

    username: str = Field(min_length=1, max_length=200)
    password: SecretStr
    email: str | None = None
    email_verified: bool = True
    claims: dict[str, Any] = Field(default_factory=dict)
    """Standard OIDC claims go to the profile, ``roles`` to roles, the rest to custom_data."""


class HooksConfig(_Section):
    """Pipeline stages replaced by import string (``module:attribute``)."""

    token_creation: str | None = Field(default=None, pattern=_IMPORT_STRING)
    token_response_generator: str | None = Field(default=None, pattern=_IMPORT_STRING)
    token_service: str | None = Field(default=None, pattern=_IMPORT_STRING)
    claims_service: str | None = Field(default=None, pattern=_IMPORT_STRING)
    profile_service: str | None = Field(default=None, pattern=_IMPORT_STRING)
    refresh_token_service: str | None = Field(default=None, pattern=_IMPORT_STRING)
    user_authenticator: str | None = Field(default=None, pattern=_IMPORT_STRING)
    backchannel_user_notifier: str | None = Field(default=None, pattern=_IMPORT_STRING)
    """How CIBA asks the user (see ``ciba.notifier``); by default it only lists on /ciba/pending."""
    custom_claims: str | None = Field(default=None, pattern=_IMPORT_STRING)
    """A get_custom_jwt_claims callable for user and machine access tokens alike."""


class HookSourceConfig(_Section):
    """Where one kind of custom claims comes from: a Python callable or a webhook.

    A script stored at run time (``tokensmith claims script set``) for the
    same kind takes precedence over both.
    """

    callable: str | None = Field(default=None, pattern=_IMPORT_STRING)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.callable is None) == (self.webhook_url is None):
            raise ValueError("set exactly one of callable, webhook_url")
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError("webhook_url needs webhook_secret (the HMAC key)")
        return self


class CustomClaimsConfig(_Section):
    """Custom claims hooks (the Logto model) and the limits they run under."""

    user: HookSourceConfig | None = None
    """Access tokens issued for a user."""
    machine: HookSourceConfig | None = None
    """client_credentials access tokens."""
    id_token: HookSourceConfig | None = None
    environment: dict[str, SecretStr] = Field(default_factory=dict)
    on_failure: Literal["access_denied", "server_error"] = "access_denied"
    max_bytes: PositiveInt = 4096
    timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    script_time_limit_seconds: float = Field(default=1.0, gt=0, le=30)
    script_memory_limit_mb: PositiveInt = 32


class PasswordHashingConfig(_Section):
    """argon2id parameters for new password hashes (defaults: RFC 9106 low-memory profile)."""

    time_cost: int = Field(default=3, ge=1, le=20)
    memory_kib: int = Field(default=64 * 1024, ge=8, le=4 * 1024 * 1024)
    parallelism: int = Field(default=4, ge=1, le=64)


class RateLimitsConfig(_Section):
    """Requests per window, per source address and per presented client_id (429 beyond).

    Rates read ``"30/minute"``, ``"300/second"``, ``"100/10s"``; ``"off"`` is no
    limit. On by default only where guessing or anonymous writes are the risk
    (sign-in, user-code entry, device and authorization requests). The token
    endpoint is off by default: client secrets are too long to guess, legitimate
    machine clients (and the benchmark) send thousands a second, often from one
    address behind a NAT, so a default there would only refuse real traffic; set
    ``token_per_client`` as a quota. /par uses the ``authorize_*`` rates.
    """

    enabled: bool = True
    token_per_client: str = "off"
    token_per_address: str = "off"
    authorize_per_client: str = "off"
    authorize_per_address: str = "600/minute"
    device_authorization_per_client: str = "off"
    device_authorization_per_address: str = "60/minute"
    backchannel_per_client: str = "off"
    backchannel_per_address: str = "600/minute"
    login_per_address: str = "30/minute"
    device_verification_per_address: str = "30/minute"

    @field_validator("*")
    @classmethod
    def _is_rate(cls, value: object) -> object:
        if isinstance(value, str):
            parse_rate(value)  # ValueError names the accepted forms
        return value
