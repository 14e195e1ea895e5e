"""The user's side of CIBA: see pending backchannel requests, approve or deny them.

Two doors, one rule set. Both act only for the user of the browser session
(the ``tokensmith_session`` cookie), only on that user's own undecided
requests, and name a request by its ``request_id``, never its auth_req_id.

* ``GET /ciba/pending`` lists them as a page; its forms ``POST /ciba/pending``
  with the double-submit CSRF token (``interaction.csrf``).
* ``GET /ciba/requests`` answers JSON ``{"csrf_token", "requests"}`` and
  ``POST /ciba/requests/{id}/approve`` (or ``/deny``) decides, with the same
  token in the ``X-CSRF-Token`` header. A custom header cannot be sent
  cross-site without a CORS preflight this server never grants, the session
  cookie is SameSite=Lax and the CSRF cookie SameSite=Strict.

Deliberately not a bearer-token API: any client holding one of the user's
access tokens could then approve its own backchannel requests, which is the
consent CIBA exists to ask the user for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tokensmith.ciba.ping import PingDelivery
from tokensmith.ciba.records import BackchannelRequest
from tokensmith.ciba.store import BackchannelRequestStore
from tokensmith.endpoints._forms import read_form, single_valued
from tokensmith.endpoints._rendering import json_response
from tokensmith.errors import InvalidRequest
from tokensmith.interaction.csrf import CSRF_FIELD, csrf_is_valid, csrf_token_for, set_csrf_cookie
from tokensmith.interaction.sessions import BrowserSession, SessionManager
from tokensmith.models.grant import StoredGrant
from tokensmith.ui.pages import page_headers, render

CSRF_HEADER: Final = "x-csrf-token"
PAGE: Final = "/ciba/pending"
_DECISIONS: Final = {"approve": "approved", "deny": "denied"}
_NOTICES: Final = {
    "approved": "Approved. The application can now sign you in.",
    "denied": "Denied. The application will be told you said no.",
    "gone": "That request has expired or was already answered.",
}


@dataclass(slots=True, frozen=True)
class CibaApprovals:
    sessions: SessionManager
    requests: BackchannelRequestStore
    ping: PingDelivery

    async def show(self, request: Request) -> Response:
        session = await self.sessions.current(request)
        if session is None:
            message = "Sign in to this server first, then open this page again."
            return render("error.html", 401, message=message)
        token = csrf_token_for(request)
        response = render(
            "ciba_pending.html",
            username=session.user.username,
            requests=await self._pending(session),
            notice=_NOTICES.get(request.query_params.get("result", "")),
            csrf_token=token,
        )
        set_csrf_cookie(response, token, secure=self.sessions.secure_cookies)
        return response

    async def submit(self, request: Request) -> Response:
        try:
            form, _ = single_valued(await read_form(request, 16 * 1024), frozenset())
        except InvalidRequest:
            return render("error.html", 400, message="The form could not be read.")
        if not csrf_is_valid(request, form.get(CSRF_FIELD)):
            message = "The form has expired or did not come from this site. Try again."
            return render("error.html", 403, message=message)
        session = await self.sessions.current(request)
        if session is None:
            return render("error.html", 401, message="Your session has ended. Sign in again.")
        decided = await self._decide(session, form.get("request_id", ""), form.get("action"))
        result = "gone" if decided is None else _DECISIONS[form["action"]]
        response = RedirectResponse(f"{PAGE}?result={result}", 303, headers=page_headers())
        response.background = self._ping_task(decided)
        return response

    async def list_requests(self, request: Request) -> Response:
        session = await self.sessions.current(request)
        if session is None:
            return _api_error(401, "login_required", "no signed-in user")
        token = csrf_token_for(request)
        body = {
            "csrf_token": token,
            "requests": [pending.to_json() for pending in await self._pending(session)],
        }
        response = json_response(body)
        set_csrf_cookie(response, token, secure=self.sessions.secure_cookies)
        return response

    async def approve(self, request: Request) -> Response:
        return await self._api_decide(request, "approve")

    async def deny(self, request: Request) -> Response:
        return await self._api_decide(request, "deny")

    async def _api_decide(self, request: Request, action: str) -> Response:
        session = await self.sessions.current(request)
        if session is None:
            return _api_error(401, "login_required", "no signed-in user")
        if not csrf_is_valid(request, request.headers.get(CSRF_HEADER)):
            return _api_error(403, "access_denied", "the X-CSRF-Token header is missing or wrong")
        request_id = request.path_params["request_id"]
        decided = await self._decide(session, request_id, action)
        if decided is None:
            return _api_error(404, "invalid_request", "no such pending request")
        response = json_response({"id": request_id, "status": _DECISIONS[action]})
        response.background = self._ping_task(decided)
        return response

    async def _pending(self, session: BrowserSession) -> list[BackchannelRequest]:
        grants = await self.requests.pending_for(session.user.subject_id)
        return [BackchannelRequest.from_grant(grant) for grant in grants]

    async def _decide(
        self, session: BrowserSession, request_id: str, action: str | None
    ) -> StoredGrant | None:
        """The decided request; None if it is not this user's, or no longer pending."""
        if action not in _DECISIONS or not request_id:
            return None
        grant = await self.requests.find_pending(session.user.subject_id, request_id)
        if grant is None:
            return None
        if action == "approve":
            return await self.requests.approve(grant)
        return await self.requests.deny(grant)

    def _ping_task(self, decided: StoredGrant | None) -> BackgroundTask | None:
        """Ping mode: call the client back once the answer is sent (section 10.2)."""
        if decided is None or not self.requests.wants_ping(decided):
            return None
        return BackgroundTask(self.ping.deliver, decided)


def _api_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)
