"""GET/POST /authorize (RFC 6749 section 4.1.1, OIDC Core 3.1.2) and /authorize/resume.

A request may also arrive by reference: ``client_id`` and a ``request_uri``
from /par (RFC 9126 section 4). Then only the pushed parameters count, and
they go through the same validation as parameters sent in the query.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.errors import InvalidRequest, InvalidRequestUri, OAuthError
from tokensmith.interaction.flow import AuthorizationFlow, Interaction
from tokensmith.interaction.pushed import PushedRequests
from tokensmith.interaction.request import (
    REPEATABLE,
    UntrustedRedirect,
    find_client,
    redirect_target,
    validate_authorization_request,
)
from tokensmith.interaction.responses import error_response
from tokensmith.interaction.sessions import SessionManager
from tokensmith.models.client import Client
from tokensmith.stores.protocols import ClientStore, ResourceStore
from tokensmith.ui.pages import render

_REQUEST_URI_REFUSED = (
    "This sign-in link cannot be used (invalid_request_uri: {}). Start again from the application."
)


def error_page(message: str, status_code: int = 400) -> Response:
    return render("error.html", status_code, message=message)


@dataclass(slots=True, frozen=True)
class AuthorizationParameters:
    """What a request asks for: its own query or form, or what was pushed for it."""

    client: Client
    params: dict[str, str]
    repeated: dict[str, tuple[str, ...]]
    pushed: bool


@dataclass(slots=True, frozen=True)
class AuthorizationEndpoint:
    issuer: str
    clients: ClientStore
    resources: ResourceStore
    sessions: SessionManager
    flow: AuthorizationFlow
    max_request_bytes: int
    pushed_requests: PushedRequests
    require_pushed_authorization_requests: bool = False
    """Server-wide RFC 9126 section 5 policy; clients may also require it one by one."""

    async def handle(self, request: Request) -> Response:
        try:
            fields = await self._fields(request)
            found = await self._parameters(fields)
            target = redirect_target(found.params, found.client)
        except UntrustedRedirect as exc:
            return error_page(exc.message)
        except InvalidRequestUri as exc:
            return error_page(_REQUEST_URI_REFUSED.format(exc.description))
        except InvalidRequest as exc:
            # A browser sent this: a malformed or oversized form gets the page too (400 or 413).
            return error_page(exc.description or "The request is malformed.", exc.status_code)
        try:
            self._check_pushed_when_required(found)
            authorization = await validate_authorization_request(
                found.params, found.repeated, found.client, target, self.resources
            )
            interaction = await self.flow.start(authorization)
            session = await self.sessions.current(request)
            return await self.flow.continue_flow(interaction, found.client, session)
        except OAuthError as exc:
            return error_response(target, self.issuer, exc)

    async def _fields(self, request: Request) -> list[tuple[str, str]]:
        """The query of a GET, the form of a POST (OIDC Core 3.1.2.1 allows both)."""
        if request.method == "POST":
            return await read_form(request, self.max_request_bytes)
        return [(k, v) for k, v in request.query_params.multi_items() if v != ""]

    async def _parameters(self, fields: list[tuple[str, str]]) -> AuthorizationParameters:
        params, repeated = single_valued(fields, REPEATABLE)
        client = await find_client(params, self.clients)
        request_uri = params.get("request_uri")
        if request_uri is None:
            return AuthorizationParameters(client, params, repeated, pushed=False)
        # RFC 9126 section 4: the pushed request is the whole request; any other
        # query parameter is ignored. Using it here makes it unusable again, and
        # the login and consent pages carry on from the interaction record.
        pushed = await self.pushed_requests.take(client.client_id, request_uri)
        return AuthorizationParameters(client, pushed.params, pushed.repeated, pushed=True)

    def _check_pushed_when_required(self, found: AuthorizationParameters) -> None:
        required = (
            self.require_pushed_authorization_requests
            or found.client.require_pushed_authorization_requests
        )
        # RFC 9126 section 4: where policy requires PAR, the server "will refuse,
        # using the invalid_request error code" a request without a request_uri.
        if required and not found.pushed:
            raise InvalidRequest("pushed authorization request required")

    async def resume(self, request: Request) -> Response:
        interaction = await self.flow.load(request.query_params.get("interaction"))
        if interaction is None:
            return error_page("This sign-in request has expired. Start again from the application.")
        return await continue_interaction(self, request, interaction)


async def continue_interaction(
    endpoint: AuthorizationEndpoint, request: Request, interaction: Interaction
) -> Response:
    """Carry an interaction on with the browser's current session."""
    client = await endpoint.clients.find_client_by_id(interaction.request.client_id)
    if client is None or not client.enabled:
        return error_page("The application is no longer known to this server.")
    session = await endpoint.sessions.current(request)
    try:
        return await endpoint.flow.continue_flow(interaction, client, session)
    except OAuthError as exc:
        return error_response(interaction.target, endpoint.issuer, exc)
