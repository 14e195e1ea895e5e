"""Authorization server metadata (RFC 8414) and OpenID Provider discovery.

Every list is read from a registry, so the document advertises exactly what
the running server does and nothing it does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.grants.base import GrantRegistry
from tokensmith.interaction.request import PROMPTS
from tokensmith.response_generator import CIBA_GRANT
from tokensmith.scopes import IDENTITY_SCOPE_CLAIMS, IDENTITY_SCOPES
from tokensmith.stores.protocols import ResourceStore


@dataclass(slots=True)
class DiscoveryEndpoint:
    issuer: str
    grants: GrantRegistry
    client_authentication: ClientAuthenticatorRegistry
    resources: ResourceStore
    algorithms: list[str]
    dpop_algorithms: list[str] | None = None
    require_pushed_authorization_requests: bool = False
    _document: bytes | None = None

    async def metadata(self) -> dict[str, object]:
        issuer = self.issuer
        scopes = sorted({*IDENTITY_SCOPES, *await self.resources.all_scopes()})
        metadata: dict[str, object] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "pushed_authorization_request_endpoint": f"{issuer}/par",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "introspection_endpoint": f"{issuer}/introspect",
            "revocation_endpoint": f"{issuer}/revoke",
            "device_authorization_endpoint": f"{issuer}/device_authorization",
            "end_session_endpoint": f"{issuer}/logout",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": self.grants.grant_types,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": self.algorithms,
            "token_endpoint_auth_methods_supported": self.client_authentication.methods,
            "introspection_endpoint_auth_methods_supported": self.client_authentication.methods,
            "revocation_endpoint_auth_methods_supported": self.client_authentication.methods,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": sorted(
                {claim for claims in IDENTITY_SCOPE_CLAIMS.values() for claim in claims}
                | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash"}
            ),
            "prompt_values_supported": sorted(PROMPTS),
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        }
        if signing_algorithms := self.client_authentication.signing_algorithms:
            # RFC 8414 section 2: "MUST be present if either of these authentication
            # methods [private_key_jwt, client_secret_jwt] are specified".
            for endpoint in ("token", "introspection", "revocation"):
                metadata[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] = (
                    signing_algorithms
                )
        if self.require_pushed_authorization_requests:
            # RFC 9126 section 5; absent means false.
            metadata["require_pushed_authorization_requests"] = True
        if self.dpop_algorithms:
            metadata["dpop_signing_alg_values_supported"] = self.dpop_algorithms  # RFC 9449 5.1
        if self.grants.get(CIBA_GRANT) is not None:
            # CIBA Core 1.0 section 4. Push mode is not implemented, so not advertised.
            metadata["backchannel_authentication_endpoint"] = f"{issuer}/backchannel"
            metadata["backchannel_token_delivery_modes_supported"] = ["poll", "ping"]
            metadata["backchannel_user_code_parameter_supported"] = False
        return metadata

    async def handle(self, request: Request) -> Response:
        if self._document is None:
            self._document = orjson.dumps(await self.metadata())
        return Response(
            self._document,
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=300"},
        )
