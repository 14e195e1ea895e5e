"""The end user, as the pipeline sees it (no password material here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class User:
    """A user; ``subject_id`` is the stable, never-reassigned ``sub``.

    ``profile`` holds standard OpenID Connect claims (given_name, locale, ...);
    ``custom_data`` is free-form and only reaches tokens through hooks.
    """

    subject_id: str
    username: str
    email: str | None = None
    email_verified: bool = False
    profile: dict[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    custom_data: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    updated_at: int = 0
