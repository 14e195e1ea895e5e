"""Settings: one TOML file plus ``TOKENSMITH_*`` environment variables.

Precedence, highest first: values passed in Python (or CLI flags), environment
variables, the TOML file, defaults. Unknown keys are errors, so a typo in the
file stops start-up instead of being ignored.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self, TypeAlias
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tokensmith.interaction.redirect_uris import LOOPBACK_HOSTS
from tokensmith.ratelimit.rates import parse_rate
from tokensmith.scopes import ADMIN_SCOPE, IDENTITY_SCOPES
from tokensmith.trust import public_key_set

TokenFormat = Literal["jwt", "opaque"]
AuthMethod = Literal[
    "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"
]
CLIENT_ASSERTION_ALGORITHMS: dict[str, tuple[str, ...]] = {
    # RFC 7518 section 3.2 HMAC with the client secret as key (OIDC Core section 9).
    "client_secret_jwt": ("HS256", "HS384", "HS512"),
    # Asymmetric only, and never "none". Ed25519 is RFC 9864's name for EdDSA on that curve.
    "private_key_jwt": ("ES256", "EdDSA", "Ed25519", "PS256", "RS256"),
}
"""Which ``alg`` each JWT client authentication method accepts on a client assertion."""
CLIENT_SECRET_JWT_MIN_SECRET_BYTES = 32
"""RFC 7518 section 3.2: an HMAC key at least as long as the hash output (HS256: 32 bytes)."""
TokenTypeName: TypeAlias = Literal["access_token", "refresh_token", "id_token", "jwt"]
"""RFC 8693 section 3 token types, without the urn:ietf:params:oauth:token-type: prefix."""
_ACTOR_TOKEN_TYPES: tuple[TokenTypeName, ...] = ("access_token", "jwt")
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"

_IMPORT_STRING = r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$"
_config_file: ContextVar[Path | None] = ContextVar("tokensmith_config_file", default=None)


# RFC 9449 section 4.2: asymmetric algorithms only, never "none" or a MAC.
DpopAlgorithm = Literal[
    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
    "EdDSA", "Ed25519",
]  # fmt: skip
_DEFAULT_DPOP_ALGORITHMS: list[DpopAlgorithm] = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenExchangePolicyConfig(_Section):
    """``[clients.token_exchange]``: what the client may exchange (RFC 8693), and for which APIs."""

    subject_token_types: list[TokenTypeName] = Field(min_length=1)
    actor_token_types: list[TokenTypeName] = Field(default_factory=lambda: [*_ACTOR_TOKEN_TYPES])
    audiences: list[str] = Field(min_length=1)
    """API resource audiences the exchanged tokens may be for."""
    allow_impersonation: bool = False
    allow_delegation: bool = True

    @model_validator(mode="after")
    def _some_exchange(self) -> Self:
        if not (self.allow_impersonation or self.allow_delegation):
            raise ValueError("allows neither impersonation nor delegation")
        return self


CIBA_GRANT = "urn:openid:params:grant-type:ciba"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class ClientConfig(_Section):
    """A client declared in the config file."""

    client_id: str = Field(
        min_length=1, max_length=200, pattern=r"^[\x20-\x7E]+$"
    )  # RFC 6749 A.1 VSCHAR
    client_name: str | None = None
    client_secret: SecretStr | None = None
    client_secret_hash: str | None = None
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"
    grant_types: list[str] = Field(default_factory=lambda: ["client_credentials"])
    scopes: list[str] = Field(default_factory=list)
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    access_token_format: TokenFormat | None = None
    access_token_lifetime: PositiveInt | None = None
    require_pkce: bool = True
    require_consent: bool = True
    require_pushed_authorization_requests: bool = False
    """RFC 9126 section 6: this client's authorization requests must come through /par."""
    always_issue_refresh_token: bool = False
    refresh_token_rotation: bool = True
    dpop_bound_access_tokens: bool = False
    """RFC 9449 section 5.2: every token request of this client must carry a DPoP proof."""
    backchannel_token_delivery_mode: Literal["poll", "ping"] = "poll"
    """CIBA: how the client learns the user decided (push mode is not supported)."""
    backchannel_client_notification_endpoint: str | None = None
    """CIBA ping mode: where the server POSTs the auth_req_id once the user decides."""
    backchannel_user_code_parameter: Literal[False] = False
    """CIBA user_code is not supported."""
    token_exchange: TokenExchangePolicyConfig | None = None
    jwks: dict[str, Any] | None = None
    """private_key_jwt: the client's public keys, as an inline JWK Set (``{ keys = [...] }``)."""
    jwks_uri: str | None = None
    """private_key_jwt: where the client publishes its JWK Set instead (https)."""
    token_endpoint_auth_signing_alg: str | None = None
    """private_key_jwt, client_secret_jwt: the only ``alg`` accepted on the client's assertions."""

    @field_validator("redirect_uris", "post_logout_redirect_uris")
    @classmethod
    def _absolute_uris(cls, uris: list[str]) -> list[str]:
        for uri in uris:
            parts = urlsplit(uri)
            # RFC 6749 section 3.1.2: "The redirection endpoint URI MUST be an
            # absolute URI" and "MUST NOT include a fragment component".
            if not parts.scheme or not (parts.netloc or parts.scheme not in ("http", "https")):
                raise ValueError(f"{uri!r} is not an absolute URI")
            if parts.fragment or uri.endswith("#"):
                raise ValueError(f"{uri!r} must not have a fragment")
        return uris

    @field_validator("redirect_uris")
    @classmethod
    def _no_cleartext_redirects(cls, uris: list[str]) -> list[str]:
        for uri in uris:
            parts = urlsplit(uri)
            # RFC 9700 section 2.6: authorization responses MUST NOT travel over
            # unencrypted connections, so plain http is only for loopback
            # redirects of native apps (RFC 8252 section 7.3).
            if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
                raise ValueError(f"{uri!r}: http redirect URIs are only allowed on loopback")
        return uris

    @model_validator(mode="after")
    def _secret_matches_method(self) -> Self:
        if self.token_endpoint_auth_method in CLIENT_ASSERTION_ALGORITHMS:
            _check_assertion_client(self)
            return self
        if (self.jwks, self.jwks_uri, self.token_endpoint_auth_signing_alg) != (None, None, None):
            raise ValueError(
                f"client {self.client_id!r}: jwks, jwks_uri and token_endpoint_auth_signing_alg "
                "are only for private_key_jwt and client_secret_jwt"
            )
        has_secret = self.client_secret is not None or self.client_secret_hash is not None
        if self.token_endpoint_auth_method == "none":
            if has_secret:
                raise ValueError(f"client {self.client_id!r}: a public client has no secret")
            if not self.require_pkce:
                raise ValueError(f"client {self.client_id!r}: a public client must use PKCE")
        elif (self.client_secret is None) == (self.client_secret_hash is None):
            raise ValueError(
                f"client {self.client_id!r}: set exactly one of client_secret, client_secret_hash"
            )
        return self

    @model_validator(mode="after")
    def _backchannel_delivery(self) -> Self:
        endpoint = self.backchannel_client_notification_endpoint
        ping = self.backchannel_token_delivery_mode == "ping"
        # CIBA section 4: the notification endpoint is "REQUIRED if the token
        # delivery mode is set to ping or push". The server sends it a bearer
        # secret, so https, or http on loopback for development only.
        if ping != (endpoint is not None):
            raise ValueError(
                f"client {self.client_id!r}: backchannel_client_notification_endpoint "
                "is required in ping mode and only used there"
            )
        if endpoint is not None and not _is_notification_endpoint(endpoint):
            raise ValueError(
                f"client {self.client_id!r}: backchannel_client_notification_endpoint must "
                "be an https URL (http only on a loopback address), without a fragment"
            )
        if CIBA_GRANT in self.grant_types and self.token_endpoint_auth_method == "none":
            raise ValueError(f"client {self.client_id!r}: a public client cannot use CIBA")
        return self


def _check_assertion_client(client: ClientConfig) -> None:
    """The keys a JWT-authenticating client needs, and nothing that cannot work."""
    name, method = client.client_id, client.token_endpoint_auth_method
    algorithms = CLIENT_ASSERTION_ALGORITHMS[method]
    alg = client.token_endpoint_auth_signing_alg
    if alg is not None and alg not in algorithms:
        raise ValueError(f"client {name!r}: {method} signs with one of {', '.join(algorithms)}")
    if method == "client_secret_jwt":
        if client.client_secret_hash is not None or client.client_secret is None:
            raise ValueError(
                f"client {name!r}: client_secret_jwt needs the plain client_secret, because "
                "the server checks the HMAC with the secret itself (a client_secret_hash cannot)"
            )
        secret = client.client_secret.get_secret_value().encode()
        if len(secret) < CLIENT_SECRET_JWT_MIN_SECRET_BYTES:
            raise ValueError(
                f"client {name!r}: a client_secret_jwt secret needs at least "
                f"{CLIENT_SECRET_JWT_MIN_SECRET_BYTES} bytes (RFC 7518 section 3.2)"
            )
        if client.jwks is not None or client.jwks_uri is not None:
            raise ValueError(f"client {name!r}: jwks and jwks_uri are for private_key_jwt")
        return
    if client.client_secret is not None or client.client_secret_hash is not None:
        raise ValueError(f"client {name!r}: a private_key_jwt client has no client secret")
    if (client.jwks is None) == (client.jwks_uri is None):
        raise ValueError(f"client {name!r}: private_key_jwt needs exactly one of jwks, jwks_uri")
    if client.jwks is not None:
        _, usable = public_key_set(client.jwks)
        if alg is not None and alg not in usable and not (alg == "EdDSA" and "Ed25519" in usable):
            raise ValueError(f"client {name!r}: no key in jwks verifies {alg}")
    elif client.jwks_uri is not None and not _is_notification_endpoint(client.jwks_uri):
        raise ValueError(
            f"client {name!r}: jwks_uri must be an https URL (http only on a loopback address)"
        )


def _is_notification_endpoint(url: str) -> bool:
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    )
    return secure and bool(parts.hostname) and not parts.fragment and not url.endswith("#")


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


class Settings(BaseSettings):
    """Everything the server reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="TOKENSMITH_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    issuer: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    data_dir: Path = Path("tokensmith-data")
    database_url: str | None = None
    database_pool_size: PositiveInt | None = None
    """Connections each process keeps open (PostgreSQL); default 5."""
    database_max_overflow: int | None = Field(default=None, ge=0)
    """Extra connections a process may open under load; default 10."""
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    """How long a SQLite write waits for another process's write lock before answering 503."""
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    """SQLite fsync policy (WAL): NORMAL survives process crashes, FULL also power loss."""
    redis_url: str | None = Field(default=None, pattern=r"^(redis|rediss|unix)://")
    """Keep short-lived state (codes, pending requests, replay caches, counters) in Redis."""
    redis_key_prefix: str = Field(default="tokensmith", pattern=r"^[\w.:-]+$")
    """Prefix of every Redis key, so several servers or tests can share one Redis."""
    access_token_lifetime: PositiveInt = 3600
    id_token_lifetime: PositiveInt = 300
    authorization_code_lifetime: PositiveInt = 60
    refresh_token_sliding_lifetime: PositiveInt = 14 * 24 * 3600
    refresh_token_absolute_lifetime: PositiveInt = 30 * 24 * 3600
    session_lifetime: PositiveInt = 8 * 3600
    purge_interval_seconds: int = Field(default=300, ge=0)
    """How often each process deletes long-expired grants (0: only ``tokensmith purge``)."""
    purge_grace_seconds: int = Field(default=3600, ge=0)
    device_code_lifetime: PositiveInt = 600
    device_code_interval: PositiveInt = 5
    ciba_request_lifetime: PositiveInt = 300
    """CIBA expires_in when the client sends no requested_expiry."""
    ciba_max_request_lifetime: PositiveInt = 1800
    """The most a client's requested_expiry (or the default above) can get."""
    ciba_interval: PositiveInt = 5
    ciba_binding_message_max_length: int = Field(default=64, ge=1, le=1024)
    ciba_ping_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    interaction_lifetime: PositiveInt = 15 * 60
    client_assertion_max_lifetime: int = Field(default=600, ge=60, le=3600)
    """The most seconds a client assertion (private_key_jwt, client_secret_jwt) may live."""
    client_jwks_cache_seconds: float = Field(default=300, gt=0)
    """How long a client's jwks_uri response is used before it is fetched again."""
    client_jwks_refetch_seconds: float = Field(default=30, ge=0)
    """The least time between two fetches of one jwks_uri when an unknown ``kid`` appears."""
    par_lifetime: int = Field(default=60, ge=5, le=600)
    """Seconds a pushed authorization request's request_uri stays usable (RFC 9126 2.2)."""
    require_pushed_authorization_requests: bool = False
    """RFC 9126 section 5: every authorization request must come through /par."""
    dpop_signing_algorithms: list[DpopAlgorithm] = Field(
        default_factory=lambda: list(_DEFAULT_DPOP_ALGORITHMS), min_length=1
    )
    """RFC 9449: the asymmetric ``alg`` values accepted on DPoP proofs."""
    dpop_proof_lifetime: int = Field(default=300, ge=10, le=3600)
    """Seconds a DPoP proof's ``iat`` may lie in the past (or future); its jti is kept as long."""
    dpop_require_nonce: bool = False
    """RFC 9449 section 8: every DPoP proof must carry a nonce this server gave out."""
    password_grant_enabled: bool = False
    login_max_failures: PositiveInt = 5
    login_lockout_seconds: PositiveInt = 300
    max_request_bytes: PositiveInt = 64 * 1024
    token_size_budget: PositiveInt = 4096
    oversize_token_action: Literal["warn", "refuse"] = "warn"
    create_demo_client: bool = True
    key_encryption_key: SecretStr | None = None
    key_rotation_days: int = Field(default=90, ge=0)
    """Add the next signing key when the active one is this old (0: only by hand)."""
    key_announce_seconds: int = Field(default=3600, ge=0)
    """How long a new key is published before it signs (rotation without ``--now``)."""
    key_publish_overlap: int = Field(default=3600, ge=0)
    """The least time a key stays published after it stops signing; the longest token
    lifetime (access, id, any client's) makes it longer."""
    key_reload_seconds: float = Field(default=60, gt=0)
    """How often each process reloads the keys and checks whether rotation is due."""
    clients: list[ClientConfig] = Field(default_factory=list)
    api_resources: list[ApiResourceConfig] = Field(default_factory=list)
    users: list[UserConfig] = Field(default_factory=list)
    trusted_issuers: list[TrustedIssuerConfig] = Field(default_factory=list)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    custom_claims: CustomClaimsConfig = Field(default_factory=CustomClaimsConfig)
    password_hashing: PasswordHashingConfig = Field(default_factory=PasswordHashingConfig)
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig)
    audit_log: bool = True
    """``tokensmith serve`` prints audit events (logger ``tokensmith.audit``) as JSON lines."""
    extension_grants: list[str] = Field(default_factory=list)
    """ExtensionGrantValidator classes by import string (``module:Class``)."""

    @field_validator("extension_grants")
    @classmethod
    def _import_strings(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(_IMPORT_STRING, value):
                raise ValueError(f"{value!r} is not a module:Class import string")
        return values

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # RFC 8414 section 2: an https URL with no query or fragment (http is
        # allowed here for development on loopback).
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.issuer is None:
            object.__setattr__(self, "issuer", f"http://{self.host}:{self.port}")
        if self.database_url is None:
            url = f"sqlite+aiosqlite:///{self.data_dir / 'tokensmith.db'}"
            object.__setattr__(self, "database_url", url)
        _check_unique("clients", [c.client_id for c in self.clients])
        _check_unique("api_resources", [r.audience for r in self.api_resources])
        server_scopes = IDENTITY_SCOPES | {ADMIN_SCOPE}
        known_scopes = server_scopes | {scope for r in self.api_resources for scope in r.scopes}
        for index, client in enumerate(self.clients):
            unknown = sorted(set(client.scopes) - known_scopes)
            if unknown:
                raise ValueError(
                    f"clients[{index}].scopes: {unknown} not owned by any api_resources entry "
                    "nor an OpenID Connect scope"
                )
        _check_trust(self)
        return self

    @property
    def issuer_url(self) -> str:
        assert self.issuer is not None  # filled by the model validator
        return self.issuer

    @property
    def database(self) -> str:
        assert self.database_url is not None  # filled by the model validator
        return self.database_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_file.get()
        if path is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path))

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Settings from ``config_file`` (or ./tokensmith.toml if present) and the environment.

        Raises ConfigError naming the offending key.
        """
        if config_file is None and Path("tokensmith.toml").is_file():
            config_file = Path("tokensmith.toml")
        if config_file is not None:
            _check_toml(config_file)
        with _reading(config_file):
            try:
                return cls(**overrides)
            except ValidationError as exc:
                raise ConfigError(describe_validation_error(exc, config_file)) from None


def _check_unique(section: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            raise ValueError(f"{section}[{index}]: duplicate {key!r}")
        seen.add(key)


def _check_trust(settings: Settings) -> None:
    """Trusted issuers are unique and not us; exchange policies name known APIs."""
    _check_unique("trusted_issuers", [t.issuer for t in settings.trusted_issuers])
    for index, trusted in enumerate(settings.trusted_issuers):
        if trusted.issuer == settings.issuer:
            raise ValueError(f"trusted_issuers[{index}]: this server's own issuer")
    audiences = {resource.audience for resource in settings.api_resources}
    for index, client in enumerate(settings.clients):
        if client.token_exchange is None:
            continue
        key = f"clients[{index}].token_exchange"
        unknown = sorted(set(client.token_exchange.audiences) - audiences)
        if unknown:
            raise ValueError(f"{key}.audiences: {unknown} are no api_resources audiences")
        if TOKEN_EXCHANGE_GRANT not in client.grant_types:
            raise ValueError(f"{key}: set, but grant_types lacks {TOKEN_EXCHANGE_GRANT}")


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as file:
            tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


@contextmanager
def _reading(path: Path | None) -> Iterator[None]:
    token = _config_file.set(path)
    try:
        yield
    finally:
        _config_file.reset(token)


def describe_validation_error(exc: ValidationError, source: Path | None) -> str:
    """One line per problem: ``key.path: message``."""
    where = f"{source}: " if source else ""
    lines = []
    for problem in exc.errors(include_url=False):
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        ).lstrip(".")
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}{key or '(top level)'}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


__all__ = [
    "ApiResourceConfig",
    "ClientConfig",
    "ConfigError",
    "CustomClaimsConfig",
    "HookSourceConfig",
    "HooksConfig",
    "Settings",
    "TokenExchangePolicyConfig",
    "TrustedIssuerConfig",
    "UserConfig",
]
