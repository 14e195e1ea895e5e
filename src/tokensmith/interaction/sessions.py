"""Browser sessions: a random cookie value whose SHA-256 keys a stored record.

The record carries ``sid`` (OIDC session id, put in id_tokens) and
``auth_time``. Ending the session revokes the record, so a copied cookie
stops working everywhere at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.models.grant import GrantKind, StoredGrant, handle_key
from tokensmith.models.user import User
from tokensmith.settings import Settings
from tokensmith.stores.protocols import GrantStore, UserStore

SESSION_COOKIE = "tokensmith_session"


@dataclass(slots=True, frozen=True)
class BrowserSession:
    sid: str
    user: User
    auth_time: int


class SessionManager:
    def __init__(self, settings: Settings, grants: GrantStore, users: UserStore):
        self._settings = settings
        self._grants = grants
        self._users = users
        self.secure_cookies = settings.issuer_url.startswith("https://")

    async def start(self, user: User) -> tuple[BrowserSession, str]:
        """A new session for ``user`` and the cookie value that carries it."""
        now = int(time.time())
        handle = secrets.token_urlsafe(32)
        sid = secrets.token_urlsafe(16)
        await self._grants.save(
            StoredGrant(
                key=handle_key(handle),
                kind=GrantKind.SESSION,
                client_id=None,
                subject_id=user.subject_id,
                session_id=sid,
                created_at=now,
                expires_at=now + self._settings.session_lifetime,
                data={"auth_time": now},
            )
        )
        return BrowserSession(sid=sid, user=user, auth_time=now), handle

    def set_cookie(self, response: Response, handle: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            handle,
            max_age=self._settings.session_lifetime,
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies,
            path="/",
        )

    async def current(self, request: Request) -> BrowserSession | None:
        """The live session of this browser, with an active user; None otherwise."""
        handle = request.cookies.get(SESSION_COOKIE)
        if not handle:
            return None
        record = await self._grants.find(handle_key(handle), GrantKind.SESSION)
        if record is None or not record.is_live(int(time.time())) or record.subject_id is None:
            return None
        user = await self._users.find_user_by_subject(record.subject_id)
        if user is None or not user.enabled or record.session_id is None:
            return None
        return BrowserSession(record.session_id, user, int(record.data["auth_time"]))

    async def end(self, request: Request, response: Response) -> None:
        handle = request.cookies.get(SESSION_COOKIE)
        if handle:
            await self._grants.revoke(handle_key(handle), int(time.time()))
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure_cookies)
