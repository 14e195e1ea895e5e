"""GET/POST /login: the sign-in page of an authorization request."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import audit_login
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints.authorization import AuthorizationEndpoint, error_page
from tokensmith.errors import AccessDenied, InvalidRequest, OAuthError
from tokensmith.interaction.csrf import CSRF_FIELD, csrf_is_valid, csrf_token_for, set_csrf_cookie
from tokensmith.interaction.flow import Interaction
from tokensmith.interaction.responses import error_response
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.ui.pages import render
from tokensmith.users.authenticator import UserAuthenticator
from tokensmith.users.provisioning import provision_user
from tokensmith.users.throttle import LoginThrottle


@dataclass(slots=True, frozen=True)
class LoginEndpoint:
    authorization: AuthorizationEndpoint
    user_authenticator: UserAuthenticator
    login_throttle: LoginThrottle
    users: SqlUserStore

    async def show(self, request: Request) -> Response:
        interaction = await self.authorization.flow.load(request.query_params.get("interaction"))
        if interaction is None:
            return error_page("This sign-in request has expired. Start again from the application.")
        return await self._form(request, interaction, username=interaction.request.login_hint)

    async def submit(self, request: Request) -> Response:
        try:
            form, _ = single_valued(await read_form(request, 16 * 1024), frozenset())
        except InvalidRequest:
            return error_page("The form could not be read.")
        if not csrf_is_valid(request, form.get(CSRF_FIELD)):
            return error_page("The form has expired or did not come from this site. Try again.")
        flow = self.authorization.flow
        interaction = await flow.load(form.get("interaction"))
        if interaction is None:
            return error_page("This sign-in request has expired. Start again from the application.")
        if form.get("action") == "cancel":
            error = AccessDenied("the user cancelled the sign-in")
            return error_response(interaction.target, self.authorization.issuer, error)
        username = form.get("username", "")
        client_id = interaction.request.client_id
        if await self.login_throttle.locked_for(username):
            audit_login(request, username, client_id, page="login", failure="locked")
            message = "Too many failed attempts. Wait a few minutes and try again."
            return await self._form(request, interaction, username, message, 429)
        user = await self.user_authenticator.authenticate(username, form.get("password", ""))
        if user is None:
            await self.login_throttle.record_failure(username)
            audit_login(request, username, client_id, page="login", failure="invalid_credentials")
            return await self._form(
                request, interaction, username, "Invalid username or password.", 401
            )
        await self.login_throttle.record_success(username)
        audit_login(request, username, client_id, page="login", subject=user.subject_id)
        await provision_user(self.users, user)
        session, handle = await self.authorization.sessions.start(user)
        interaction = await flow.mark(interaction, logged_in_at=int(time.time()))
        client = await self.authorization.clients.find_client_by_id(interaction.request.client_id)
        if client is None:
            return error_page("The application is no longer known to this server.")
        try:
            response = await flow.continue_flow(interaction, client, session)
        except OAuthError as exc:
            response = error_response(interaction.target, self.authorization.issuer, exc)
        self.authorization.sessions.set_cookie(response, handle)
        return response

    async def _form(
        self,
        request: Request,
        interaction: Interaction,
        username: str | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        client = await self.authorization.clients.find_client_by_id(interaction.request.client_id)
        token = csrf_token_for(request)
        response = render(
            "login.html",
            status_code,
            redirects_to=interaction.request.redirect_uri,
            client_name=(client.client_name if client else None) or interaction.request.client_id,
            interaction=interaction.handle,
            csrf_token=token,
            username=username or "",
            error=error,
        )
        set_csrf_cookie(response, token, secure=self.authorization.sessions.secure_cookies)
        return response
