"""The registered client, as the token pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class TokenExchangePolicy:
    """What a client may do with token exchange (RFC 8693); a client without one may not.

    Token types are the short names of RFC 8693 section 3 (``access_token``,
    ``refresh_token``, ``id_token``, ``jwt``); ``audiences`` are API resources.
    """

    subject_token_types: frozenset[str]
    audiences: frozenset[str]
    actor_token_types: frozenset[str] = frozenset({"access_token", "jwt"})
    allow_impersonation: bool = False
    allow_delegation: bool = True


@dataclass(slots=True, frozen=True)
class Client:
    """A registered OAuth client.

    ``secret_hashes`` never holds a plain secret: config secrets are hashed on
    load and stored ones are kept hashed (see ``clientauth.secrets``).
    """

    client_id: str
    token_endpoint_auth_method: str
    grant_types: frozenset[str]
    scopes: frozenset[str]
    secret_hashes: tuple[str, ...] = ()
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    client_name: str | None = None
    access_token_format: str | None = None
    access_token_lifetime: int | None = None
    enabled: bool = True
    require_pkce: bool = True
    require_consent: bool = True
    require_pushed_authorization_requests: bool = False
    """RFC 9126 section 6: authorization requests only by request_uri from /par."""
    always_issue_refresh_token: bool = False
    refresh_token_rotation: bool = True
    dpop_bound_access_tokens: bool = False
    """RFC 9449 section 5.2: a token request without a DPoP proof is refused."""
    backchannel_token_delivery_mode: str = "poll"
    """CIBA: ``poll`` or ``ping``."""
    backchannel_client_notification_endpoint: str | None = None
    token_exchange: TokenExchangePolicy | None = None
    properties: dict[str, str] = field(default_factory=dict)
    jwks: dict[str, Any] | None = None
    """private_key_jwt: the client's public keys (a JWK Set), when given inline."""
    jwks_uri: str | None = None
    """private_key_jwt: where the client's JWK Set is fetched, when not inline."""
    token_endpoint_auth_signing_alg: str | None = None
    """private_key_jwt, client_secret_jwt: the one ``alg`` its assertions may use, if set."""
    client_secret_jwt_hmac_key: str | None = field(default=None, repr=False)
    """client_secret_jwt only: the plain secret, because it is the HMAC key that
    verifies the client's assertions (a hash cannot); never set for other methods."""

    @property
    def is_public(self) -> bool:
        """Public clients hold no secret (RFC 6749 section 2.1)."""
        return self.token_endpoint_auth_method == "none"
