"""token exchange (RFC 8693): a token presented for one party, traded for one to use elsewhere.

Without an actor_token the new token impersonates the subject: its ``sub``,
no new ``act``. With one it records delegation: ``act`` names the actor as
the current actor, and the actors the subject token already records nest
below it as prior actors (section 4.1).

Errors follow section 2.2.2: a subject or actor token that is invalid, or
unacceptable by the client's policy, is invalid_request; an audience or
resource outside the policy is invalid_target; a client with no policy is
unauthorized_client.
"""

from __future__ import annotations

from typing import ClassVar

from tokensmith.errors import InvalidRequest, InvalidTarget, UnauthorizedClient, printable
from tokensmith.grants._steps import (
    check_client_may_use_grant,
    find_audiences,
    find_requested_resources,
    find_subject_user,
    narrow_scopes_to_client,
    narrow_to_ceiling,
    parse_scope,
)
from tokensmith.grants._subject_tokens import (
    ISSUABLE,
    PresentedToken,
    PresentedTokenReader,
    act_claim,
    check_may_act,
    issued_token_type,
    token_type_name,
)
from tokensmith.keys.manager import KeyManager
from tokensmith.models.client import Client, TokenExchangePolicy
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.models.resource import ApiResource
from tokensmith.settings import Settings
from tokensmith.stores.protocols import GrantStore, ResourceStore, UserStore
from tokensmith.tokens.formats.opaque import OpaqueAccessTokenFormat
from tokensmith.tokens.profile_service import ProfileService
from tokensmith.trust import TrustedIssuers


class TokenExchangeGrant:
    grant_type: ClassVar[str] = "urn:ietf:params:oauth:grant-type:token-exchange"
    parameters: ClassVar[frozenset[str]] = frozenset(
        {"subject_token", "subject_token_type", "actor_token", "actor_token_type"}
        | {"requested_token_type", "audience", "scope"}
    )

    def __init__(
        self,
        settings: Settings,
        keys: KeyManager,
        grants: GrantStore,
        opaque_tokens: OpaqueAccessTokenFormat,
        trusted_issuers: TrustedIssuers,
        users: UserStore,
        resources: ResourceStore,
        profile_service: ProfileService,
    ):
        self._tokens = PresentedTokenReader(
            settings.issuer_url, keys, grants, opaque_tokens, trusted_issuers
        )
        self._users = users
        self._resources = resources
        self._profile_service = profile_service

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        policy = client.token_exchange
        if policy is None:
            raise UnauthorizedClient("the client has no token exchange policy")
        parameters = request.parameters
        issued = issued_token_type(parameters.get("requested_token_type"))
        subject = await self._present("subject", request, policy.subject_token_types, client)
        actor = await self._actor(subject, request, policy, client)
        named, targets = await self._targets(request, policy)
        user = await find_subject_user(
            self._users,
            self._profile_service,
            subject.subject,
            allow_unknown=subject.may_be_unknown,
            refuse=InvalidRequest,
        )
        allowed = await narrow_scopes_to_client(
            None, client, targets, self._resources, identity=user is not None
        )
        scopes = narrow_to_ceiling(parse_scope(parameters.get("scope")), allowed, subject.scopes)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(scopes),
            resources=tuple(named or [t for t in targets if t.scopes & set(scopes)]),
            parameters=parameters,
            user=user,
            subject=None if user else subject.subject,
            auth_time=subject.auth_time if user else None,
            grant_family=subject.family,
            extra_claims=act_claim(subject, actor),
            issued_token_type=issued,
            access_token_format=ISSUABLE[issued],
            subject_token=subject.hook_context(),
        )

    async def _present(
        self, role: str, request: TokenRequest, allowed: frozenset[str], client: Client
    ) -> PresentedToken:
        # Section 2.1: subject_token and subject_token_type are REQUIRED.
        parameters = request.parameters
        value = parameters.get(f"{role}_token")
        if value is None:
            raise InvalidRequest(f"{role}_token is required")
        kind = token_type_name(parameters.get(f"{role}_token_type"), f"{role}_token_type")
        if kind not in allowed:
            raise InvalidRequest(f"this client may not present a {kind} as {role}_token")
        return await self._tokens.read(value, kind, client, f"{role}_token", request.dpop_jkt)

    async def _actor(
        self,
        subject: PresentedToken,
        request: TokenRequest,
        policy: TokenExchangePolicy,
        client: Client,
    ) -> PresentedToken | None:
        parameters = request.parameters
        # Section 2.1: actor_token_type "is REQUIRED when the actor_token parameter
        # is present in the request but MUST NOT be included otherwise."
        if "actor_token" not in parameters:
            if "actor_token_type" in parameters:
                raise InvalidRequest("actor_token_type without actor_token")
            if not policy.allow_impersonation:
                raise InvalidRequest("this client may not impersonate: send an actor_token")
            return None
        if not policy.allow_delegation:
            raise InvalidRequest("this client may not exchange with an actor_token")
        actor = await self._present("actor", request, policy.actor_token_types, client)
        if actor.act is not None:
            # A delegated token's sub is whom it was issued for, not the party
            # acting: naming that sub as the actor would misrecord who acts.
            raise InvalidRequest("actor_token is itself delegated (act); send the actor's own")
        check_may_act(subject, actor)
        return actor

    async def _targets(
        self, request: TokenRequest, policy: TokenExchangePolicy
    ) -> tuple[list[ApiResource], list[ApiResource]]:
        """The APIs named by audience and resource, and the APIs scopes may come from.

        Section 2.2.2: "If the authorization server is unwilling or unable to
        issue a token for any target service indicated by the "resource" or
        "audience" parameters, the "invalid_target" error code SHOULD be used".
        """
        found = await find_audiences(request.audiences, self._resources)
        found += await find_requested_resources(request.resources, self._resources)
        named = {resource.audience: resource for resource in found}
        outside = sorted(audience for audience in named if audience not in policy.audiences)
        if outside:
            raise InvalidTarget(f"this client may not exchange for {printable(outside[0])}")
        if named:
            return list(named.values()), list(named.values())
        return [], await find_audiences(tuple(sorted(policy.audiences)), self._resources)
