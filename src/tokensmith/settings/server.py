"""Settings: one TOML file plus ``TOKENSMITH_*`` environment variables.

Precedence, highest first: values passed in Python (or CLI flags), environment
variables, the TOML file, defaults. Unknown keys are errors, so a typo in the
file stops start-up instead of being ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
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

from tokensmith.scopes import ADMIN_SCOPE, IDENTITY_SCOPES
from tokensmith.settings._common import _IMPORT_STRING, ConfigError, _config_file
from tokensmith.settings.clients import TOKEN_EXCHANGE_GRANT, ClientConfig
from tokensmith.settings.loading import _check_toml, _reading, describe_validation_error
from tokensmith.settings.sections import (
    _DEFAULT_DPOP_ALGORITHMS,
    ApiResourceConfig,
    CustomClaimsConfig,
    DpopAlgorithm,
    HooksConfig,
    PasswordHashingConfig,
    RateLimitsConfig,
    TrustedIssuerConfig,
    UserConfig,
)


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
    sqlite_process: Literal["auto", "on", "off"] = "auto"
    """Commit the stored tokens of a SQLite file (opaque access tokens, refresh tokens,
    codes), consume them and look them up in a child process of each worker's, on another
    core ("on"), or on the worker's own threads ("off"). "auto": on when ``tokensmith
    serve`` runs fewer workers than the CPUs it may use; off in an app built with
    ``create_app`` and served some other way."""
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
    signing_process: Literal["auto", "on", "off"] = "auto"
    """Sign tokens in a child process of each worker's, on another core ("on"), or in the
    worker ("off"). "auto": on when ``tokensmith serve`` runs fewer workers than the CPUs it
    may use; off in an app built with ``create_app`` and served some other way."""
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
