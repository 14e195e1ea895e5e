"""client_secret_jwt: the client signs its assertion with HMAC over its secret.

OpenID Connect Core section 9 and RFC 7523 section 2.2. The server must hold
the plain secret to check an HMAC (``Client.client_secret_jwt_hmac_key``), so
unlike client_secret_basic it cannot keep only a hash; in exchange the secret
itself never travels.
"""

from __future__ import annotations

from typing import Any, ClassVar

from joserfc.jwk import Key, OctKey

from tokensmith.clientauth._assertions import JwtClientAssertion
from tokensmith.errors import InvalidClient
from tokensmith.models.client import Client
from tokensmith.settings import CLIENT_ASSERTION_ALGORITHMS


class ClientSecretJwt(JwtClientAssertion):
    method: ClassVar[str] = "client_secret_jwt"
    signing_algorithms: ClassVar[tuple[str, ...]] = CLIENT_ASSERTION_ALGORITHMS["client_secret_jwt"]

    def claims_algorithm(self, alg: object) -> bool:
        return isinstance(alg, str) and alg.startswith("HS")

    async def verification_key(self, client: Client, header: dict[str, Any], alg: str) -> Key:
        secret = client.client_secret_jwt_hmac_key
        if not secret:
            raise InvalidClient("the client has no secret for client_secret_jwt")
        key = secret.encode("utf-8")
        # RFC 7518 section 3.2: "A key of the same size as the hash output (for
        # instance, 256 bits for "HS256") or larger MUST be used".
        if len(key) * 8 < int(alg[2:]):
            raise InvalidClient(f"the client's secret is too short for {alg}")
        return OctKey.import_key(key)
