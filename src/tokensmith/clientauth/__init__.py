"""Client authentication at the token endpoint (RFC 6749 section 2.3, RFC 7523 2.2)."""

from __future__ import annotations

from tokensmith.clientauth._assertions import CLIENT_ASSERTION_TYPE
from tokensmith.clientauth.base import (
    ClientAuthenticator,
    ClientAuthenticatorRegistry,
    ClientCredentials,
)
from tokensmith.clientauth.client_secret_basic import ClientSecretBasic
from tokensmith.clientauth.client_secret_jwt import ClientSecretJwt
from tokensmith.clientauth.client_secret_post import ClientSecretPost
from tokensmith.clientauth.none import NoClientAuthentication
from tokensmith.clientauth.private_key_jwt import PrivateKeyJwt

DEFAULT_AUTHENTICATORS: tuple[type[ClientAuthenticator], ...] = (
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    NoClientAuthentication,
)

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "DEFAULT_AUTHENTICATORS",
    "ClientAuthenticator",
    "ClientAuthenticatorRegistry",
    "ClientCredentials",
    "ClientSecretBasic",
    "ClientSecretJwt",
    "ClientSecretPost",
    "NoClientAuthentication",
    "PrivateKeyJwt",
]
