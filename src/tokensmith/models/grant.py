"""StoredGrant: server-side state behind a handle (codes, refresh tokens, sessions, ...).

One record shape serves every kind, as Duende's PersistedGrant does: the
handle itself is never stored, only its SHA-256 (``key``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class GrantKind(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"
    SESSION = "session"
    INTERACTION = "interaction"
    CONSENT = "consent"
    LOGIN_FAILURES = "login_failures"
    DEVICE_CODE = "device_code"
    BACKCHANNEL_REQUEST = "backchannel_request"
    USED_JTI = "used_jti"
    """A JWT id seen once (client assertions, JWT bearer grants): replay protection."""
    PUSHED_AUTHORIZATION_REQUEST = "pushed_authorization_request"
    """RFC 9126: authorization parameters pushed ahead, used once through a request_uri."""


@dataclass(slots=True, frozen=True)
class StoredGrant:
    key: str
    kind: GrantKind
    client_id: str | None
    subject_id: str | None
    created_at: int
    expires_at: int
    data: dict[str, Any] = field(default_factory=dict)
    family_id: str | None = None
    session_id: str | None = None
    consumed_at: int | None = None
    revoked_at: int | None = None

    def is_live(self, now: int) -> bool:
        return self.revoked_at is None and now < self.expires_at


class ConsumeOutcome(StrEnum):
    CONSUMED = "consumed"
    """This call used the grant: it is ours alone."""
    ALREADY_CONSUMED = "already_consumed"
    """Someone used it before: a replay."""
    MISSING = "missing"


def handle_key(handle: str) -> str:
    """The stored key for a handle: base64url SHA-256, so a database leak reveals no handle."""
    digest = hashlib.sha256(handle.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
