"""What every custom-claims hook source receives and how it may fail.

All three sources (an in-process callable, a webhook, a stored JavaScript
script) take the same ``HookInput`` and either return a dict of claims or
raise one of the two errors below; the caller turns those into a refused
token request, never a token without the claims it was meant to carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tokensmith._types import Claims, JSONObject


@dataclass(slots=True, frozen=True)
class HookInput:
    """``token`` is a copy of the payload built so far; ``context`` is JSON-ready."""

    token: Claims
    context: JSONObject
    environment: dict[str, str] = field(default_factory=dict)


class HookDenied(Exception):
    """The hook called ``api.deny_access(message)``: refuse with access_denied."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class HookFailed(Exception):
    """The hook raised, timed out, ran out of memory or answered garbage."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ClaimsHook(Protocol):
    async def run(self, hook_input: HookInput) -> dict[str, Any]:
        """The extra claims; raises HookDenied or HookFailed."""
        ...
