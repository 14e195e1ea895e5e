"""POST /par: pushed authorization requests (RFC 9126 section 2).

The client authenticates as at the token endpoint and sends the parameters
of an authorization request in the body. They are validated now, by the same
steps /authorize runs, so a bad request fails here as JSON (section 2.3)
rather than in the user's browser; a good one is stored and the client gets
a single-use request_uri to send the user to /authorize with.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import audit_event
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import json_response
from tokensmith.errors import InvalidRequest
from tokensmith.interaction.pushed import PushedRequest, PushedRequests
from tokensmith.interaction.request import (
    REPEATABLE,
    UntrustedRedirect,
    redirect_target,
    validate_authorization_request,
)
from tokensmith.stores.protocols import ResourceStore


@dataclass(slots=True, frozen=True)
class PushedAuthorizationEndpoint:
    client_authentication: ClientAuthenticatorRegistry
    resources: ResourceStore
    pushed_requests: PushedRequests
    max_request_bytes: int

    async def handle(self, request: Request) -> Response:
        form, repeated = single_valued(await read_form(request, self.max_request_bytes), REPEATABLE)
        client = await self.client_authentication.authenticate(request.headers, form)
        # RFC 9126 section 2.1: "The request_uri authorization request parameter
        # is one exception, and it MUST NOT be provided."
        if "request_uri" in form:
            raise InvalidRequest("request_uri must not be pushed")
        # Credentials are not authorization parameters: they are never stored.
        credentials = self.client_authentication.form_fields
        params = {k: v for k, v in form.items() if k not in credentials}
        params["client_id"] = client.client_id
        try:
            target = redirect_target(params, client)
        except UntrustedRedirect as exc:
            # RFC 9126 section 2.3: where RFC 6749 forbids redirecting the error
            # (a bad redirect_uri), "invalid_request" is the error code.
            raise InvalidRequest(exc.message) from None
        await validate_authorization_request(params, repeated, client, target, self.resources)
        request_uri = await self.pushed_requests.push(
            client.client_id, PushedRequest(params, repeated)
        )
        audit_event(
            "authorization_request.pushed", "success", request=request, client_id=client.client_id
        )
        # RFC 9126 section 2.2: 201 with request_uri and expires_in.
        body = {"request_uri": request_uri, "expires_in": self.pushed_requests.lifetime}
        return json_response(body, status_code=201)
