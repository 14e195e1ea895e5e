"""POST /backchannel: the Backchannel Authentication Endpoint (CIBA Core 1.0 section 7).

The client asks for a user to be authenticated out of band. Checks follow
section 7.2: client authentication, the client's right to the flow, scope,
the one hint that names the user, then the optional parameters. The request
is stored, the ``BackchannelUserNotifier`` stage asks the user, and the
acknowledgement of section 7.3 goes back. Errors are section 13 JSON.

Not supported, and refused or ignored as said: signed requests (``request``),
``login_hint_token``, ``user_code`` and ``acr_values`` (ignored), push mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.ciba.hints import UserHints
from tokensmith.ciba.notifier import BackchannelUserNotifier
from tokensmith.ciba.store import BackchannelRequestStore, NewRequest
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import json_response
from tokensmith.errors import (
    InvalidBindingMessage,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
)
from tokensmith.grants._steps import (
    audiences_for,
    check_client_may_use_grant,
    narrow_scopes_to_client,
    parse_scope,
)
from tokensmith.models.client import Client
from tokensmith.response_generator import CIBA_GRANT
from tokensmith.scopes import OPENID
from tokensmith.settings import Settings
from tokensmith.stores.protocols import ResourceStore

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_MAX_NOTIFICATION_TOKEN = 1024
_MAX_EXPIRY_DIGITS = 9


@dataclass(slots=True, frozen=True)
class BackchannelAuthenticationEndpoint:
    settings: Settings
    client_authentication: ClientAuthenticatorRegistry
    resources: ResourceStore
    hints: UserHints
    requests: BackchannelRequestStore
    notifier: BackchannelUserNotifier

    async def handle(self, request: Request) -> Response:
        fields = await read_form(request, self.settings.max_request_bytes)
        form, _ = single_valued(fields, frozenset())
        # Section 7.2 step 1: "Authenticate the Client per the authentication
        # method registered or configured for its client_id."
        client = await self.client_authentication.authenticate(request.headers, form)
        check_may_use_ciba(client)
        if "request" in form:
            raise InvalidRequest("signed authentication requests are not supported")
        scopes = await self._scopes(form.get("scope"), client)
        user = await self.hints.find_user(form, client)
        new = NewRequest(
            client=client,
            user=user,
            scopes=scopes,
            resources=[r.audience for r in await audiences_for(scopes, [], self.resources)],
            binding_message=self._binding_message(form.get("binding_message")),
            lifetime=self._lifetime(form.get("requested_expiry")),
            interval=self.settings.ciba_interval,
            client_notification_token=notification_token(form, client),
        )
        auth_req_id, pending = await self.requests.create(new)
        try:
            await self.notifier.notify(pending)
        except Exception:
            await self.requests.remove(auth_req_id)
            raise
        # Section 7.3: auth_req_id and expires_in REQUIRED; interval for poll and ping.
        body = {"auth_req_id": auth_req_id, "expires_in": new.lifetime, "interval": new.interval}
        return json_response(body)

    async def _scopes(self, scope: str | None, client: Client) -> list[str]:
        requested = parse_scope(scope)
        if requested is None:
            raise InvalidRequest("scope is required")
        # Section 7.1: "CIBA authentication requests MUST therefore contain
        # the openid scope value."
        if OPENID not in requested:
            raise InvalidScope("scope must include openid")
        return await narrow_scopes_to_client(requested, client, [], self.resources, identity=True)

    def _binding_message(self, value: str | None) -> str | None:
        # Section 7.1: the binding_message "SHOULD be relatively short and use
        # a limited set of plain text characters"; it is shown on the user's
        # page, so nothing that could disguise it (control or format characters).
        if value is None:
            return None
        limit = self.settings.ciba_binding_message_max_length
        if len(value) > limit:
            raise InvalidBindingMessage(f"binding_message is longer than {limit} characters")
        if not value.isprintable() or not value.strip():
            raise InvalidBindingMessage("binding_message must be printable text")
        return value

    def _lifetime(self, requested_expiry: str | None) -> int:
        """expires_in: the client's requested_expiry or the default, within the server's cap."""
        cap = self.settings.ciba_max_request_lifetime
        if requested_expiry is None:
            return min(self.settings.ciba_request_lifetime, cap)
        # Section 7.1: requested_expiry is "A positive integer".
        if not requested_expiry.isascii() or not requested_expiry.isdigit():
            raise InvalidRequest("requested_expiry must be a positive integer")
        if len(requested_expiry) > _MAX_EXPIRY_DIGITS or int(requested_expiry) == 0:
            raise InvalidRequest("requested_expiry must be a positive integer")
        return min(int(requested_expiry), cap)


def check_may_use_ciba(client: Client) -> None:
    # Section 13 unauthorized_client: "The Client is not authorized to use
    # this authentication flow."
    check_client_may_use_grant(client, CIBA_GRANT)
    if client.is_public:
        raise UnauthorizedClient("public clients may not use CIBA")
    if client.backchannel_token_delivery_mode not in ("poll", "ping"):
        raise UnauthorizedClient("the client's token delivery mode is not supported")


def notification_token(form: dict[str, str], client: Client) -> str | None:
    """The client_notification_token of a ping client (poll clients have no use for one)."""
    if client.backchannel_token_delivery_mode != "ping":
        return None
    token = form.get("client_notification_token")
    # Section 7.1: client_notification_token is "REQUIRED if the Client is
    # registered to use Ping or Push modes"; its length "MUST NOT exceed 1024
    # characters" and it must be an RFC 6750 bearer credential.
    if token is None:
        raise InvalidRequest("client_notification_token is required in ping mode")
    if len(token) > _MAX_NOTIFICATION_TOKEN or not _B64TOKEN.match(token):
        raise InvalidRequest("client_notification_token is not a valid bearer token")
    return token
