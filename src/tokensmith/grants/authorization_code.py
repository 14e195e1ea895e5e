"""authorization_code (RFC 6749 section 4.1.3, RFC 7636 PKCE, OIDC Core 3.1.3)."""

from __future__ import annotations

from typing import ClassVar

from tokensmith.errors import InvalidGrant, InvalidRequest
from tokensmith.grants._steps import (
    check_client_may_use_grant,
    consume_once,
    find_active_user,
    resources_by_audience,
    verify_pkce,
)
from tokensmith.grants._user_grant import StoredUserGrant
from tokensmith.models.client import Client
from tokensmith.models.grant import GrantKind
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest


class AuthorizationCodeGrant(StoredUserGrant):
    grant_type: ClassVar[str] = "authorization_code"
    parameters: ClassVar[frozenset[str]] = frozenset({"code", "redirect_uri", "code_verifier"})

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        code = request.parameters.get("code")
        if code is None:
            raise InvalidRequest("code is required")
        grant = await consume_once(
            self._grants, code, GrantKind.AUTHORIZATION_CODE, client, "authorization code"
        )
        # RFC 6749 section 4.1.3: redirect_uri is REQUIRED if it was included
        # in the authorization request, "and their values MUST be identical".
        if request.parameters.get("redirect_uri") != grant.data.get("redirect_uri"):
            raise InvalidGrant("redirect_uri does not match the authorization request")
        verify_pkce(grant.data.get("code_challenge"), request.parameters.get("code_verifier"))
        user = await find_active_user(self._users, self._profile_service, grant.subject_id)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(grant.data["scopes"]),
            resources=tuple(await resources_by_audience(grant.data["resources"], self._resources)),
            parameters=request.parameters,
            user=user,
            session_id=grant.session_id,
            auth_time=grant.data.get("auth_time"),
            nonce=grant.data.get("nonce"),
            grant_family=grant.family_id,
            source_grant=grant,
        )
