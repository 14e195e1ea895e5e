"""POST /device_authorization: the device authorization request (RFC 8628 section 3.1-3.2)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import json_response
from tokensmith.grants._steps import (
    audiences_for,
    check_client_may_use_grant,
    find_requested_resources,
    narrow_scopes_to_client,
    parse_scope,
)
from tokensmith.grants.device_code import DEVICE_CODE_GRANT
from tokensmith.interaction.device import DeviceAuthorizations
from tokensmith.stores.protocols import ResourceStore


@dataclass(slots=True, frozen=True)
class DeviceAuthorizationEndpoint:
    issuer: str
    client_authentication: ClientAuthenticatorRegistry
    resources: ResourceStore
    devices: DeviceAuthorizations
    max_request_bytes: int

    async def handle(self, request: Request) -> Response:
        fields = await read_form(request, self.max_request_bytes)
        form, repeated = single_valued(fields, frozenset({"resource"}))
        # RFC 8628 section 3.1: the client authenticates as at the token
        # endpoint; a public client sends its client_id.
        client = await self.client_authentication.authenticate(request.headers, form)
        check_client_may_use_grant(client, DEVICE_CODE_GRANT)
        targets = await find_requested_resources(repeated.get("resource", ()), self.resources)
        scopes = await narrow_scopes_to_client(
            parse_scope(form.get("scope")), client, targets, self.resources, identity=True
        )
        audiences = [r.audience for r in await audiences_for(scopes, targets, self.resources)]
        started = await self.devices.start(client.client_id, scopes, audiences)
        verification_uri = f"{self.issuer}/device"
        return json_response(
            {
                "device_code": started.device_code,
                "user_code": started.user_code,
                "verification_uri": verification_uri,
                "verification_uri_complete": f"{verification_uri}?user_code={started.user_code}",
                "expires_in": started.expires_in,
                "interval": started.interval,
            }
        )
