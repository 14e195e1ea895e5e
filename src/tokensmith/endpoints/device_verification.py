"""GET/POST /device and POST /device/confirm: the user side of the device flow.

The user enters the code (prefilled from verification_uri_complete), signs
in on the same page if needed, sees the client and the scopes, and approves
or denies (RFC 8628 section 3.3). Every POST is CSRF-protected; sign-in
failures count against the same throttle as the login page.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import audit_event, audit_login
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints.authorization import error_page
from tokensmith.errors import InvalidRequest
from tokensmith.interaction.csrf import CSRF_FIELD, csrf_is_valid, csrf_token_for, set_csrf_cookie
from tokensmith.interaction.device import (
    DeviceAuthorizations,
    format_user_code,
    normalize_user_code,
)
from tokensmith.interaction.sessions import BrowserSession, SessionManager
from tokensmith.models.grant import StoredGrant
from tokensmith.stores.protocols import ClientStore
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.ui.pages import render
from tokensmith.users.authenticator import UserAuthenticator
from tokensmith.users.provisioning import provision_user
from tokensmith.users.throttle import LoginThrottle

BAD_CODE = "That code is not valid or has expired. Check it and try again."
FORM_EXPIRED = "The form has expired or did not come from this site. Try again."


@dataclass(slots=True, frozen=True)
class DeviceVerificationEndpoint:
    clients: ClientStore
    devices: DeviceAuthorizations
    sessions: SessionManager
    user_authenticator: UserAuthenticator
    login_throttle: LoginThrottle
    users: SqlUserStore

    async def show(self, request: Request) -> Response:
        session = await self.sessions.current(request)
        code = request.query_params.get("user_code", "")
        return self._code_page(request, code, session)

    async def submit(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return error_page(FORM_EXPIRED)
        code = form.get("user_code", "")
        record = await self.devices.find_by_user_code(code)
        session = await self.sessions.current(request)
        if record is None:
            return self._code_page(request, code, session, BAD_CODE, 400)
        new_cookie = None
        if session is None:
            username = form.get("username", "")
            if await self.login_throttle.locked_for(username):
                audit_login(request, username, record.client_id, page="device", failure="locked")
                message = "Too many failed attempts. Wait a few minutes and try again."
                return self._code_page(request, code, None, message, 429)
            user = await self.user_authenticator.authenticate(username, form.get("password", ""))
            if user is None:
                await self.login_throttle.record_failure(username)
                failure = "invalid_credentials"
                audit_login(request, username, record.client_id, page="device", failure=failure)
                message = "Invalid username or password."
                return self._code_page(request, code, None, message, 401)
            await self.login_throttle.record_success(username)
            audit_login(request, username, record.client_id, page="device", subject=user.subject_id)
            await provision_user(self.users, user)
            session, new_cookie = await self.sessions.start(user)
        response = await self._confirm_page(request, record, session, code)
        if new_cookie is not None:
            self.sessions.set_cookie(response, new_cookie)
        return response

    async def confirm(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return error_page(FORM_EXPIRED)
        session = await self.sessions.current(request)
        record = await self.devices.find_by_user_code(form.get("user_code", ""))
        if session is None or record is None:
            return self._code_page(request, "", session, BAD_CODE, 400)
        approved = form.get("action") == "approve"
        await self.devices.decide(
            record, approved, session.user.subject_id, session.auth_time, session.sid
        )
        audit_event(
            "device.approved" if approved else "device.denied",
            "success",
            request=request,
            subject=session.user.subject_id,
            client_id=record.client_id,
            scope=" ".join(record.data["scopes"]),
        )
        return render("device_done.html", approved=approved)

    async def _form(self, request: Request) -> dict[str, str] | None:
        try:
            form, _ = single_valued(await read_form(request, 16 * 1024), frozenset())
        except InvalidRequest:
            return None
        return form if csrf_is_valid(request, form.get(CSRF_FIELD)) else None

    def _code_page(
        self,
        request: Request,
        code: str,
        session: BrowserSession | None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        normalized = normalize_user_code(code)
        token = csrf_token_for(request)
        response = render(
            "device.html",
            status_code,
            user_code=format_user_code(normalized) if len(normalized) == 8 else code[:20],
            signed_in_as=session.user.username if session else None,
            csrf_token=token,
            error=error,
        )
        set_csrf_cookie(response, token, secure=self.sessions.secure_cookies)
        return response

    async def _confirm_page(
        self, request: Request, record: StoredGrant, session: BrowserSession, code: str
    ) -> Response:
        client = await self.clients.find_client_by_id(record.client_id or "")
        token = csrf_token_for(request)
        response = render(
            "device_confirm.html",
            client_name=(client.client_name if client else None) or record.client_id,
            scopes=record.data["scopes"],
            username=session.user.username,
            user_code=format_user_code(normalize_user_code(code)),
            csrf_token=token,
        )
        set_csrf_cookie(response, token, secure=self.sessions.secure_cookies)
        return response
