"""Matching a sent redirect_uri against the registered ones.

RFC 9700 section 2.1 requires exact string comparison, with one exception:
native apps listening on a loopback address pick a free port at run time, so
for an http loopback redirect URI the port may differ (RFC 8252 section 7.3).
Everything else (scheme, host, path, query) must still match exactly.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def matching_redirect_uri(sent: str, registered: tuple[str, ...]) -> str | None:
    """The redirect URI to use for ``sent``, or None when no registered one matches."""
    if sent in registered:
        return sent
    sent_parts = _loopback_parts(sent)
    if sent_parts is None:
        return None
    for candidate in registered:
        if _loopback_parts(candidate) == sent_parts:
            return sent
    return None


def _loopback_parts(uri: str) -> tuple[str, str, str, str] | None:
    """Host, path, query and fragment of a plain http loopback URI; None for any other URI."""
    parts: SplitResult = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return (parts.hostname, parts.path, parts.query, parts.fragment)
