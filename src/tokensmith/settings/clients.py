"""``[[clients]]``: how a client is declared, and the checks that make a declaration workable."""

from __future__ import annotations

from typing import Any, Literal, Self, TypeAlias
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

from tokensmith.interaction.redirect_uris import LOOPBACK_HOSTS
from tokensmith.settings._common import _Section
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
