"""private_key_jwt: the client signs its assertion with its own private key.

OpenID Connect Core section 9 and RFC 7523 section 2.2. The server holds only
the client's public keys, inline (``jwks``) or at its ``jwks_uri``; they never
include a secret, so this is the method to choose when no secret should be
shared at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from joserfc.jwk import Key

from tokensmith.clientauth._assertions import JwtClientAssertion
from tokensmith.clientauth.client_keys import ClientKeys
from tokensmith.models.client import Client
from tokensmith.settings import CLIENT_ASSERTION_ALGORITHMS
from tokensmith.stores.protocols import GrantStore

if TYPE_CHECKING:
    from tokensmith.settings import Settings


class PrivateKeyJwt(JwtClientAssertion):
    method: ClassVar[str] = "private_key_jwt"
    signing_algorithms: ClassVar[tuple[str, ...]] = CLIENT_ASSERTION_ALGORITHMS["private_key_jwt"]

    def __init__(self, settings: Settings, grants: GrantStore):
        super().__init__(settings, grants)
        self._keys = ClientKeys(
            settings.client_jwks_cache_seconds, settings.client_jwks_refetch_seconds
        )

    def claims_algorithm(self, alg: object) -> bool:
        # Every assertion that is not HMAC-signed: "none" or an unknown alg is
        # claimed too, so that it is refused here by name rather than ignored.
        return not (isinstance(alg, str) and alg.startswith("HS"))

    async def verification_key(self, client: Client, header: dict[str, Any], alg: str) -> Key:
        kid = header.get("kid")
        return await self._keys.key_for(client, kid if isinstance(kid, str) else None, alg)
