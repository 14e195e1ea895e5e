"""API resources (RFC 8707 audiences) and the scopes they own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class ApiResource:
    """An API that accepts access tokens; ``audience`` becomes the ``aud`` claim."""

    audience: str
    scopes: frozenset[str]
    access_token_format: str = "jwt"
    name: str | None = None
    introspecting_clients: frozenset[str] = frozenset()
    """Client ids of the resource servers allowed to introspect this API's tokens."""
