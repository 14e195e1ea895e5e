"""urn:openid:params:grant-type:ciba (CIBA Core 1.0 sections 10.1 and 11).

The client presents the auth_req_id the backchannel authentication endpoint
gave it. Until the user decides the answer is authorization_pending (or
slow_down); then access_denied, or tokens exactly once. Ping clients come
here after the ping, and may poll as well, under the same rules.
"""

from __future__ import annotations

import time
from typing import ClassVar, NoReturn

from tokensmith.ciba.store import BackchannelRequestStore, RequestStatus, status_of
from tokensmith.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    InvalidRequest,
    SlowDown,
)
from tokensmith.grants._steps import (
    check_client_may_use_grant,
    find_active_user,
    resources_by_audience,
)
from tokensmith.models.client import Client
from tokensmith.models.grant import StoredGrant
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest
from tokensmith.response_generator import CIBA_GRANT
from tokensmith.stores.protocols import ResourceStore, UserStore
from tokensmith.tokens.profile_service import ProfileService

# CIBA section 11 slow_down: "the interval MUST be increased by at least 5
# seconds for this and all subsequent requests".
SLOW_DOWN_STEP = 5


class CibaGrant:
    grant_type: ClassVar[str] = CIBA_GRANT
    parameters: ClassVar[frozenset[str]] = frozenset({"auth_req_id"})

    def __init__(
        self,
        backchannel_requests: BackchannelRequestStore,
        users: UserStore,
        resources: ResourceStore,
        profile_service: ProfileService,
    ):
        self._requests = backchannel_requests
        self._users = users
        self._resources = resources
        self._profile_service = profile_service

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        auth_req_id = request.parameters.get("auth_req_id")
        if auth_req_id is None:
            raise InvalidRequest("auth_req_id is required")
        stored = await self._requests.find(auth_req_id)
        # Section 11 invalid_grant: "If the auth_req_id is invalid or was
        # issued to another Client". Checked before anything is changed, so
        # another client cannot use up or slow down this client's request.
        if stored is None or stored.client_id != client.client_id:
            raise InvalidGrant("unknown auth_req_id")
        grant = await self._approved(stored)
        user = await find_active_user(self._users, self._profile_service, grant.subject_id)
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(grant.data["scopes"]),
            resources=tuple(await resources_by_audience(grant.data["resources"], self._resources)),
            parameters=request.parameters,
            user=user,
            auth_time=grant.data["approved_at"],
            grant_family=grant.family_id,
            source_grant=grant,
        )

    async def _approved(self, stored: StoredGrant) -> StoredGrant:
        """The request, redeemed by this call; or the error that says why not (yet)."""
        now = time.time()
        status = status_of(stored)
        if status is RequestStatus.REDEEMED:
            raise InvalidGrant("the auth_req_id was already used")
        if now >= stored.expires_at:
            # Section 11 expired_token: "The auth_req_id has expired."
            raise ExpiredToken("the auth_req_id has expired; make a new request")
        if status is RequestStatus.DENIED:
            # Section 11 access_denied: "The end-user denied the authorization request."
            raise AccessDenied("the user denied the request")
        if status is RequestStatus.PENDING:
            await self._still_pending(stored, now)
        redeemed = await self._requests.redeem(stored)
        if redeemed is None:
            raise InvalidGrant("the auth_req_id was already used")
        return redeemed

    async def _still_pending(self, stored: StoredGrant, now: float) -> NoReturn:
        """authorization_pending, or slow_down (and a longer interval) when polled too fast."""
        interval = int(stored.data["interval"])
        last_polled_at = stored.data.get("last_polled_at")
        too_fast = last_polled_at is not None and now - float(last_polled_at) < interval
        if too_fast:
            interval += SLOW_DOWN_STEP
        await self._requests.record_poll(stored, now, interval)
        if too_fast:
            raise SlowDown(f"poll at most every {interval} seconds")
        raise AuthorizationPending("the user has not answered yet")
