"""GET/POST /logout: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

The user confirms on a CSRF-protected page; the session record is revoked and
the browser is sent to a post_logout_redirect_uri only if it is registered
for the client that the id_token_hint (or client_id) names.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tokensmith.audit import audit_event
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints.authorization import error_page
from tokensmith.errors import InvalidRequest
from tokensmith.interaction.csrf import CSRF_FIELD, csrf_is_valid, csrf_token_for, set_csrf_cookie
from tokensmith.interaction.sessions import SessionManager
from tokensmith.keys.manager import KeyManager
from tokensmith.stores.protocols import ClientStore
from tokensmith.ui.pages import page_headers, render

LOGOUT_PARAMETERS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")


@dataclass(slots=True, frozen=True)
class EndSessionEndpoint:
    issuer: str
    clients: ClientStore
    sessions: SessionManager
    keys: KeyManager

    async def show(self, request: Request) -> Response:
        fields = {
            name: request.query_params[name]
            for name in LOGOUT_PARAMETERS
            if request.query_params.get(name)
        }
        token = csrf_token_for(request)
        response = render(
            "logout.html",
            redirects_to=fields.get("post_logout_redirect_uri"),
            fields=fields,
            csrf_token=token,
        )
        set_csrf_cookie(response, token, secure=self.sessions.secure_cookies)
        return response

    async def submit(self, request: Request) -> Response:
        try:
            form, _ = single_valued(await read_form(request, 32 * 1024), frozenset())
        except InvalidRequest:
            return error_page("The form could not be read.")
        if not csrf_is_valid(request, form.get(CSRF_FIELD)):
            return error_page("The form has expired or did not come from this site. Try again.")
        destination = await self._post_logout_redirect(form)
        session = await self.sessions.current(request)
        if destination is None:
            response: Response = render("logged_out.html")
        else:
            response = RedirectResponse(destination, status_code=303, headers=page_headers())
        await self.sessions.end(request, response)
        audit_event(
            "logout",
            "success" if session is not None else "no_session",
            request=request,
            subject=session.user.subject_id if session is not None else None,
            session_id=session.sid if session is not None else None,
        )
        return response

    async def _post_logout_redirect(self, form: dict[str, str]) -> str | None:
        uri = form.get("post_logout_redirect_uri")
        if uri is None:
            return None
        client_id = self._client_from_hint(form.get("id_token_hint")) or form.get("client_id")
        client = await self.clients.find_client_by_id(client_id) if client_id else None
        if client is None or uri not in client.post_logout_redirect_uris:
            return None
        state = form.get("state")
        if state is None:
            return uri
        return f"{uri}{'&' if '?' in uri else '?'}{urlencode({'state': state})}"

    def _client_from_hint(self, hint: str | None) -> str | None:
        """The audience of an id_token we signed (expired ones are fine as hints)."""
        if hint is None:
            return None
        try:
            claims = jwt.decode(hint, self.keys.verification_keys, algorithms=self.keys.algorithms)
        except (JoseError, ValueError, TypeError):
            return None
        if claims.claims.get("iss") != self.issuer:
            return None
        audience = claims.claims.get("aud")
        return audience if isinstance(audience, str) else None
