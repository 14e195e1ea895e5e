"""Comparing a proof's ``htu`` with an endpoint's URL (RFC 9449 section 4.3, check 9).

The comparison ignores query and fragment and applies the RFC 3986 section
6.2.2-6.2.3 normalisations that matter in practice: case of scheme and host,
a default port written out, and an empty path.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized_target(uri: str) -> str | None:
    """``scheme://host[:port]/path`` of an http(s) URI; None for anything else."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def same_target(htu: str, endpoint_url: str) -> bool:
    expected = normalized_target(endpoint_url)
    return expected is not None and normalized_target(htu) == expected
