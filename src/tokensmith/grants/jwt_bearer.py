"""JWT bearer (RFC 7523 section 2.1): a trusted issuer's signed assertion, traded for a token.

The assertion is checked by section 3 (in ``trust.py``) and used once. Its
``sub`` is one of our users, or an outside subject where the issuer's
config allows it.
"""

from __future__ import annotations

import time
from typing import ClassVar

from tokensmith.errors import InvalidGrant, InvalidRequest
from tokensmith.grants._steps import (
    audiences_for,
    check_client_may_use_grant,
    find_requested_resources,
    find_subject_user,
    narrow_scopes_to_client,
    parse_scope,
    use_jti_once,
)
from tokensmith.models.client import Client
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.stores.protocols import GrantStore, ResourceStore, UserStore
from tokensmith.tokens.profile_service import ProfileService
from tokensmith.trust import LEEWAY_SECONDS, TrustedIssuers, UntrustedToken

MAX_ASSERTION_LIFETIME = 3600
"""Seconds an assertion may still have to live; longer ones are refused."""


class JwtBearerGrant:
    grant_type: ClassVar[str] = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    parameters: ClassVar[frozenset[str]] = frozenset({"assertion", "scope"})

    def __init__(
        self,
        trusted_issuers: TrustedIssuers,
        grants: GrantStore,
        users: UserStore,
        resources: ResourceStore,
        profile_service: ProfileService,
    ):
        self._trusted = trusted_issuers
        self._grants = grants
        self._users = users
        self._resources = resources
        self._profile_service = profile_service

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        assertion = request.parameters.get("assertion")
        if assertion is None:
            raise InvalidRequest("assertion is required")
        # Section 3.1: if the JWT is not valid, "the value of the error parameter
        # MUST be the "invalid_grant" error code".
        try:
            issuer, claims = self._trusted.verify(assertion)
        except UntrustedToken as reason:
            raise InvalidGrant(f"assertion refused: {reason}") from None
        now = int(time.time())
        # Section 3: the server "MAY reject JWTs with an "exp" claim value that is
        # unreasonably far in the future" (it bounds the replay record, too).
        if claims["exp"] > now + MAX_ASSERTION_LIFETIME + LEEWAY_SECONDS:
            raise InvalidGrant("assertion refused: exp is too far in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidGrant("assertion refused: it has no jti, so a replay could not be seen")
        user = await find_subject_user(
            self._users,
            self._profile_service,
            claims["sub"],
            allow_unknown=issuer.allow_unknown_subjects,
        )
        targets = await find_requested_resources(request.resources, self._resources)
        requested = parse_scope(request.parameters.get("scope"))
        scopes = await narrow_scopes_to_client(
            requested, client, targets, self._resources, identity=user is not None
        )
        # Section 3, item 7: the server "MAY ensure that JWTs are not replayed by
        # maintaining the set of used "jti" values". Recorded last, so a request
        # refused for another reason does not use the assertion up.
        if not await use_jti_once(
            self._grants, issuer.issuer, jti, int(claims["exp"]) + LEEWAY_SECONDS
        ):
            raise InvalidGrant("assertion refused: it was already used (jti)")
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(scopes),
            resources=tuple(await audiences_for(scopes, targets, self._resources)),
            parameters=request.parameters,
            user=user,
            subject=None if user else claims["sub"],
        )
