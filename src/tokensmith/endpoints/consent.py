"""GET/POST /consent: the user allows or denies the scopes a client asks for."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import audit_event
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints.authorization import (
    AuthorizationEndpoint,
    continue_interaction,
    error_page,
)
from tokensmith.errors import AccessDenied, InvalidRequest
from tokensmith.interaction.consent import ConsentStore
from tokensmith.interaction.csrf import CSRF_FIELD, csrf_is_valid, csrf_token_for, set_csrf_cookie
from tokensmith.interaction.responses import error_response
from tokensmith.ui.pages import render

EXPIRED = "This sign-in request has expired. Start again from the application."


@dataclass(slots=True, frozen=True)
class ConsentEndpoint:
    authorization: AuthorizationEndpoint
    consents: ConsentStore

    async def show(self, request: Request) -> Response:
        interaction = await self.authorization.flow.load(request.query_params.get("interaction"))
        session = await self.authorization.sessions.current(request)
        if interaction is None or session is None:
            return error_page(EXPIRED)
        client = await self.authorization.clients.find_client_by_id(interaction.request.client_id)
        token = csrf_token_for(request)
        response = render(
            "consent.html",
            redirects_to=interaction.request.redirect_uri,
            client_name=(client.client_name if client else None) or interaction.request.client_id,
            username=session.user.username,
            scopes=interaction.request.scopes,
            interaction=interaction.handle,
            csrf_token=token,
        )
        set_csrf_cookie(response, token, secure=self.authorization.sessions.secure_cookies)
        return response

    async def submit(self, request: Request) -> Response:
        try:
            form, _ = single_valued(await read_form(request, 16 * 1024), frozenset())
        except InvalidRequest:
            return error_page("The form could not be read.")
        if not csrf_is_valid(request, form.get(CSRF_FIELD)):
            return error_page("The form has expired or did not come from this site. Try again.")
        flow = self.authorization.flow
        interaction = await flow.load(form.get("interaction"))
        session = await self.authorization.sessions.current(request)
        if interaction is None or session is None:
            return error_page(EXPIRED)
        allowed = form.get("action") == "allow"
        audit_event(
            "consent.granted" if allowed else "consent.denied",
            "success",
            request=request,
            subject=session.user.subject_id,
            client_id=interaction.request.client_id,
            scope=" ".join(interaction.request.scopes),
        )
        if not allowed:
            error = AccessDenied("the user denied the request")
            return error_response(interaction.target, self.authorization.issuer, error)
        await self.consents.remember(
            session.user.subject_id, interaction.request.client_id, interaction.request.scopes
        )
        interaction = await flow.mark(interaction, consented=True)
        return await continue_interaction(self.authorization, request, interaction)
