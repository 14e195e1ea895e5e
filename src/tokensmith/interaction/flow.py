"""AuthorizationFlow: what happens between an authorization request and its code.

Login and consent pages hand control back here; the decision is made again
each time from the stored request, so no step can be skipped by editing a URL.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, replace

from starlette.responses import RedirectResponse, Response

from tokensmith.errors import ConsentRequired, LoginRequired
from tokensmith.interaction.consent import ConsentStore
from tokensmith.interaction.request import AuthorizationRequest, RedirectTarget
from tokensmith.interaction.responses import authorization_response
from tokensmith.interaction.sessions import BrowserSession
from tokensmith.models.client import Client
from tokensmith.models.grant import GrantKind, StoredGrant, handle_key, new_handle
from tokensmith.settings import Settings
from tokensmith.stores.protocols import GrantStore


@dataclass(slots=True, frozen=True)
class Interaction:
    """A pending authorization request while the user logs in or consents."""

    handle: str
    request: AuthorizationRequest
    logged_in_at: int | None = None
    consented: bool = False

    @property
    def target(self) -> RedirectTarget:
        return RedirectTarget(
            self.request.redirect_uri, self.request.response_mode, self.request.state
        )


class AuthorizationFlow:
    def __init__(self, settings: Settings, grants: GrantStore, consents: ConsentStore):
        self._settings = settings
        self._grants = grants
        self._consents = consents

    async def continue_flow(
        self, interaction: Interaction, client: Client, session: BrowserSession | None
    ) -> Response:
        """Log in, then consent, then the code: whichever is due next."""
        request = interaction.request
        if self._needs_login(interaction, session):
            if "none" in request.prompt:
                raise LoginRequired("the user is not signed in")
            return await self._go_to("/login", interaction)
        assert session is not None
        if await self._needs_consent(interaction, client, session):
            if "none" in request.prompt:
                raise ConsentRequired("the user has not consented to these scopes")
            return await self._go_to("/consent", interaction)
        code = await self._issue_code(request, session)
        await self._grants.remove(handle_key(interaction.handle))
        return authorization_response(interaction.target, self._settings.issuer_url, {"code": code})

    def _needs_login(self, interaction: Interaction, session: BrowserSession | None) -> bool:
        if interaction.logged_in_at is not None and session is not None:
            return False
        if session is None or "login" in interaction.request.prompt:
            return True
        max_age = interaction.request.max_age
        # OIDC Core 3.1.2.1: past max_age the user MUST be actively re-authenticated.
        return max_age is not None and int(time.time()) - session.auth_time >= max_age

    async def _needs_consent(
        self, interaction: Interaction, client: Client, session: BrowserSession
    ) -> bool:
        if interaction.consented or not client.require_consent:
            return False
        if "consent" in interaction.request.prompt:
            return True
        granted = await self._consents.granted_scopes(session.user.subject_id, client.client_id)
        return not set(interaction.request.scopes) <= granted

    async def _go_to(self, path: str, interaction: Interaction) -> Response:
        await self.save(interaction)
        return RedirectResponse(f"{path}?interaction={interaction.handle}", status_code=303)

    async def start(self, request: AuthorizationRequest) -> Interaction:
        return Interaction(handle=secrets.token_urlsafe(32), request=request)

    async def save(self, interaction: Interaction) -> None:
        now = int(time.time())
        await self._grants.replace(
            StoredGrant(
                key=handle_key(interaction.handle),
                kind=GrantKind.INTERACTION,
                client_id=interaction.request.client_id,
                subject_id=None,
                created_at=now,
                expires_at=now + self._settings.interaction_lifetime,
                data={
                    "request": interaction.request.to_data(),
                    "logged_in_at": interaction.logged_in_at,
                    "consented": interaction.consented,
                },
            )
        )

    async def load(self, handle: str | None) -> Interaction | None:
        if not handle:
            return None
        record = await self._grants.find(handle_key(handle), GrantKind.INTERACTION)
        if record is None or not record.is_live(int(time.time())):
            return None
        return Interaction(
            handle=handle,
            request=AuthorizationRequest.from_data(record.data["request"]),
            logged_in_at=record.data.get("logged_in_at"),
            consented=bool(record.data.get("consented")),
        )

    async def mark(self, interaction: Interaction, **changes: object) -> Interaction:
        updated = replace(interaction, **changes)  # type: ignore[arg-type]
        await self.save(updated)
        return updated

    async def _issue_code(self, request: AuthorizationRequest, session: BrowserSession) -> str:
        now = int(time.time())
        code = new_handle()
        await self._grants.save(
            StoredGrant(
                key=handle_key(code),
                kind=GrantKind.AUTHORIZATION_CODE,
                client_id=request.client_id,
                subject_id=session.user.subject_id,
                family_id=uuid.uuid4().hex,
                session_id=session.sid,
                created_at=now,
                expires_at=now + self._settings.authorization_code_lifetime,
                data={
                    "redirect_uri": request.redirect_uri if request.redirect_uri_sent else None,
                    "code_challenge": request.code_challenge,
                    "scopes": request.scopes,
                    "resources": request.resources,
                    "nonce": request.nonce,
                    "auth_time": session.auth_time,
                },
            )
        )
        return code
