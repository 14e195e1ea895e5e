"""device_code (RFC 8628 section 3.4-3.5): the device polls until the user decides."""

from __future__ import annotations

import time
from typing import ClassVar

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
    consume_once,
    find_active_user,
    resources_by_audience,
)
from tokensmith.grants._user_grant import StoredUserGrant
from tokensmith.interaction.device import APPROVED, DENIED
from tokensmith.models.client import Client
from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.models.requests import TokenRequest, ValidatedTokenRequest

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 section 3.5: on slow_down "the interval MUST be increased by 5
# seconds for this and all subsequent requests".
SLOW_DOWN_STEP = 5


class DeviceCodeGrant(StoredUserGrant):
    grant_type: ClassVar[str] = DEVICE_CODE_GRANT
    parameters: ClassVar[frozenset[str]] = frozenset({"device_code"})

    async def validate(self, request: TokenRequest, client: Client) -> ValidatedTokenRequest:
        check_client_may_use_grant(client, self.grant_type)
        device_code = request.parameters.get("device_code")
        if device_code is None:
            raise InvalidRequest("device_code is required")
        record = await self._grants.find(handle_key(device_code), GrantKind.DEVICE_CODE)
        if record is None or record.client_id != client.client_id or "status" not in record.data:
            raise InvalidGrant("unknown device_code")
        if record.consumed_at is not None:
            raise InvalidGrant("the device_code was already used")
        if not record.is_live(int(time.time())):
            raise ExpiredToken("the device_code has expired; start again")
        status = record.data["status"]
        if status == DENIED:
            raise AccessDenied("the user denied the request")
        if status != APPROVED:
            # Pacing applies while the device waits: once approved, the first
            # poll wins the code and every other one is refused below.
            await self._pace(record)
            raise AuthorizationPending("the user has not answered yet")
        grant = await consume_once(
            self._grants, device_code, GrantKind.DEVICE_CODE, client, "device_code"
        )
        return await self._validated(grant, client, request)

    async def _pace(self, record: StoredGrant) -> None:
        """slow_down when polled faster than the interval (which then grows by 5 s).

        The polling counters live in a record of their own, so a poll can never
        write over the user's decision on the device code itself.
        """
        now = int(time.time())
        key = handle_key("device-poll:" + record.key)
        counters = await self._grants.find(key, GrantKind.DEVICE_CODE)
        data = (
            dict(counters.data)
            if counters is not None
            else {"last_poll": 0, "interval": record.data["interval"]}
        )
        too_fast = now - int(data["last_poll"]) < int(data["interval"])
        data["last_poll"] = now
        if too_fast:
            data["interval"] = int(data["interval"]) + SLOW_DOWN_STEP
        await self._grants.replace(
            StoredGrant(
                key, GrantKind.DEVICE_CODE, record.client_id, None, now, record.expires_at, data
            )
        )
        if too_fast:
            raise SlowDown(f"poll at most every {data['interval']} seconds")

    async def _validated(
        self, grant: StoredGrant, client: Client, request: TokenRequest
    ) -> ValidatedTokenRequest:
        user = await find_active_user(
            self._users, self._profile_service, grant.data.get("subject_id")
        )
        return ValidatedTokenRequest(
            grant_type=self.grant_type,
            client=client,
            scopes=tuple(grant.data["scopes"]),
            resources=tuple(await resources_by_audience(grant.data["resources"], self._resources)),
            parameters=request.parameters,
            user=user,
            session_id=grant.data.get("sid"),
            auth_time=grant.data.get("auth_time"),
        )
