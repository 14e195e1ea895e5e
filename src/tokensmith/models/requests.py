"""What travels from the token endpoint to the grant validators and on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers

from tokensmith._types import FormData, JSONObject
from tokensmith.models.client import Client
from tokensmith.models.grant import StoredGrant
from tokensmith.models.resource import ApiResource
from tokensmith.models.user import User


@dataclass(slots=True, frozen=True)
class TokenRequest:
    """A token request after the edge checks: single-valued fields, no blanks.

    ``resources`` holds the repeatable RFC 8707 ``resource`` values and
    ``audiences`` the repeatable RFC 8693 ``audience`` values (for grants that
    declare it); ``parameters`` holds only the fields the grant declared.
    """

    grant_type: str
    parameters: FormData
    resources: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    headers: Headers = field(default_factory=Headers)
    dpop_jkt: str | None = None
    """The thumbprint of the request's valid DPoP proof key (RFC 9449), if it sent one."""


@dataclass(slots=True, frozen=True)
class ValidatedTokenRequest:
    """A token request that passed client authentication and its grant's checks.

    ``scopes`` are the granted scopes (already narrowed to what the client may
    have); ``resources`` are the APIs the access token is for; ``user`` is the
    resource owner, absent for client_credentials.
    """

    grant_type: str
    client: Client
    scopes: tuple[str, ...]
    resources: tuple[ApiResource, ...]
    parameters: FormData = field(default_factory=dict)
    user: User | None = None
    session_id: str | None = None
    auth_time: int | None = None
    nonce: str | None = None
    grant_family: str | None = None
    """Tokens issued from one authorization share a family, revoked together."""
    source_grant: StoredGrant | None = None
    """The code or refresh token this request consumed, if any."""
    extra_claims: dict[str, Any] = field(default_factory=dict)
    """Claims the grant itself sets (e.g. ``act`` for token exchange); hooks cannot override."""
    issued_token_type: str | None = None
    """RFC 8693 issued_token_type, for the token exchange response."""
    subject: str | None = None
    """The ``sub`` when it is no user of ours (token exchange, JWT bearer); ``user`` wins."""
    access_token_format: str | None = None
    """A format the grant requires (``jwt`` for RFC 8693 requested_token_type jwt)."""
    dpop_jkt: str | None = None
    """RFC 9449: the access token is bound to this key (``cnf.jkt``); set by the token endpoint."""
    subject_token: JSONObject | None = None
    """Token exchange: what the validated subject_token says, for the custom-claims hook's
    ``context.grant.subject_token`` (``hook_context.py`` lists the keys); never the token."""

    @property
    def subject_id(self) -> str | None:
        return self.user.subject_id if self.user is not None else self.subject
