"""TokenService: builds the Token model for a validated request."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

from tokensmith.models.requests import ValidatedTokenRequest
from tokensmith.models.token import Token
from tokensmith.scopes import OPENID
from tokensmith.settings import Settings
from tokensmith.tokens.claims import built_in_claims, merge_custom_claims
from tokensmith.tokens.claims_service import ClaimsService
from tokensmith.tokens.custom_claims import CustomClaimsService
from tokensmith.tokens.hook_context import hook_context
from tokensmith.tokens.profile_service import ProfileService


class TokenService:
    """Gathers the built-in fields, then asks the Profile and Claims services for the rest."""

    def __init__(
        self,
        settings: Settings,
        claims_service: ClaimsService,
        profile_service: ProfileService,
        custom_claims: CustomClaimsService | None = None,
    ):
        self.settings = settings
        self.claims_service = claims_service
        self.profile_service = profile_service
        self.custom_claims = custom_claims

    @property
    def userinfo_audience(self) -> str:
        """The audience of tokens that may call userinfo (granted ``openid``)."""
        return f"{self.settings.issuer_url}/userinfo"

    async def create_access_token(self, request: ValidatedTokenRequest) -> Token:
        client = request.client
        extra = await self.claims_service.get_access_token_claims(request)
        # The claims service may not replace built-in claims: drop and log any it tries.
        claims, _ = merge_custom_claims(request.extra_claims, extra)
        audiences = [resource.audience for resource in request.resources]
        if OPENID in request.scopes:
            audiences.append(self.userinfo_audience)
        token = Token(
            token_type="access_token",
            issuer=self.settings.issuer_url,
            client_id=client.client_id,
            # RFC 9068 section 2.2: for client_credentials "sub" identifies the client.
            subject_id=request.subject_id or client.client_id,
            audiences=audiences,
            scopes=list(request.scopes),
            lifetime=client.access_token_lifetime or self.settings.access_token_lifetime,
            created_at=int(time.time()),
            jti=secrets.token_urlsafe(16),
            claims=claims,
            access_token_format=self.access_token_format(request),
            auth_time=request.auth_time,
            grant_family=request.grant_family,
            # RFC 9449 section 6: the key the token is bound to, by its thumbprint.
            confirmation={"jkt": request.dpop_jkt} if request.dpop_jkt else None,
            claim_sources={
                name: "grant" if name in request.extra_claims else "claims service"
                for name in claims
            },
        )
        # The hook runs at every issuance, refresh included, so claims follow the user's data.
        await self.apply_custom_claims("user" if request.user else "machine", token, request)
        return token

    async def create_identity_token(
        self, request: ValidatedTokenRequest, access_token: str | None
    ) -> Token:
        """The id_token (OIDC Core 2): profile claims by scope, and at_hash for the access token."""
        if request.user is None:
            raise ValueError("an identity token needs a user")
        profile = await self.profile_service.get_profile_claims(request.user, request.scopes)
        profile.pop("sub", None)  # the id_token's sub is the built-in one
        claims, _ = merge_custom_claims({}, profile)
        token = Token(
            token_type="id_token",
            issuer=self.settings.issuer_url,
            client_id=request.client.client_id,
            subject_id=request.user.subject_id,
            audiences=[request.client.client_id],
            scopes=list(request.scopes),
            lifetime=self.settings.id_token_lifetime,
            created_at=int(time.time()),
            jti=secrets.token_urlsafe(16),
            claims=claims,
            auth_time=request.auth_time,
            nonce=request.nonce,
            session_id=request.session_id,
            access_token_hash=left_half_hash(access_token) if access_token else None,
            claim_sources=dict.fromkeys(claims, "profile service"),
        )
        await self.apply_custom_claims("id_token", token, request)
        return token

    async def apply_custom_claims(
        self, kind: str, token: Token, request: ValidatedTokenRequest
    ) -> None:
        """Merge the custom-claims hook's answer into ``token`` (built-ins always win)."""
        if self.custom_claims is None:
            return
        found = await self.custom_claims.hook_for(kind)
        if found is None:
            return  # the common case: build no payload copy and no context for nobody
        source, hook = found
        payload_so_far = {**token.claims, **built_in_claims(token)}
        outcome = await self.custom_claims.run_hook(
            source, hook, payload_so_far, hook_context(request)
        )
        token.claims.update(outcome.claims)
        token.claim_sources.update(dict.fromkeys(outcome.claims, outcome.source))
        token.dropped_claims.update(
            {name: f"{outcome.source}: {why}" for name, why in outcome.dropped.items()}
        )

    def access_token_format(self, request: ValidatedTokenRequest) -> str:
        """The grant's, else the client's format; else opaque for no resource, else the resources'.

        A token for no API is only good for userinfo, so it need not be
        self-contained (Logto's rule); mixed resource formats get a JWT.
        """
        if request.access_token_format is not None:
            return request.access_token_format
        if request.client.access_token_format is not None:
            return request.client.access_token_format
        if not request.resources:
            return "opaque"
        formats = {resource.access_token_format for resource in request.resources}
        return formats.pop() if len(formats) == 1 else "jwt"


def left_half_hash(value: str) -> str:
    """OIDC Core 3.1.3.6 at_hash: base64url of the left half of SHA-256 (for ES256/RS256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode("ascii").rstrip("=")
