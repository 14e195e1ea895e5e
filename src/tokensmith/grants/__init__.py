"""Grant validators, one module per grant_type, and the registry that holds them."""

from tokensmith.grants.authorization_code import AuthorizationCodeGrant
from tokensmith.grants.base import GrantRegistry, GrantValidator
from tokensmith.grants.ciba import CibaGrant
from tokensmith.grants.client_credentials import ClientCredentialsGrant
from tokensmith.grants.device_code import DeviceCodeGrant
from tokensmith.grants.jwt_bearer import JwtBearerGrant
from tokensmith.grants.password import PasswordGrant
from tokensmith.grants.refresh_token import RefreshTokenGrant
from tokensmith.grants.token_exchange import TokenExchangeGrant

DEFAULT_GRANTS: tuple[type[GrantValidator], ...] = (
    ClientCredentialsGrant,
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    DeviceCodeGrant,
    CibaGrant,
    TokenExchangeGrant,
    JwtBearerGrant,
)
"""Always on. PasswordGrant is added only when ``password_grant_enabled`` is set."""

__all__ = [
    "DEFAULT_GRANTS",
    "AuthorizationCodeGrant",
    "CibaGrant",
    "ClientCredentialsGrant",
    "DeviceCodeGrant",
    "GrantRegistry",
    "GrantValidator",
    "JwtBearerGrant",
    "PasswordGrant",
    "RefreshTokenGrant",
    "TokenExchangeGrant",
]
