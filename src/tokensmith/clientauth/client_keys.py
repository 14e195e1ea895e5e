"""A private_key_jwt client's public keys: inline ``jwks``, or fetched from ``jwks_uri``.

Fetched sets are kept in this process for ``cache_seconds``. A client that
rotates signs with a ``kid`` the cached set lacks, so an unknown ``kid`` makes
the set be fetched again, but at most once every ``refetch_seconds`` per URI:
assertions naming made-up kids cannot turn the server into a request pump.
One fetch runs per URI at a time. Anything that goes wrong (the URI is down,
answers an error, sends no usable JWK Set or a private key) is the client's
authentication failing, so InvalidClient, never a server error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import orjson
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey

from tokensmith.errors import InvalidClient
from tokensmith.models.client import Client

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 5.0
MAX_JWKS_BYTES = 256 * 1024
"""A JWK Set of a few dozen RSA keys fits many times over; anything bigger is refused."""

_CURVES: dict[str, tuple[type[Key], frozenset[str]]] = {
    "ES256": (ECKey, frozenset({"P-256"})),
    "EdDSA": (OKPKey, frozenset({"Ed25519", "Ed448"})),
    "Ed25519": (OKPKey, frozenset({"Ed25519"})),
}


class UnusableKeySet(ValueError):
    """A JWK Set that must not verify assertions: not a JWK Set, or with a private key."""


@dataclass(slots=True, frozen=True)
class _Fetched:
    keys: KeySet | None
    """The last set fetched well, if any."""
    fetched_at: float
    """When ``keys`` were fetched: they are used until ``cache_seconds`` after it."""
    tried_at: float
    """The last fetch, good or failed: no other starts before ``refetch_seconds`` after it."""


class ClientKeys:
    """Finds the public key that must have signed a client's assertion."""

    def __init__(
        self,
        cache_seconds: float,
        refetch_seconds: float,
        transport: httpx2.AsyncBaseTransport | None = None,
    ):
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._transport = transport
        self._fetched: dict[str, _Fetched] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key_for(self, client: Client, kid: str | None, alg: str) -> Key:
        """The client's key for this ``kid`` and ``alg``; InvalidClient if it has none."""
        if client.jwks is not None:
            return _pick_or_invalid_client(_keys_or_invalid_client(client.jwks), kid, alg)
        if client.jwks_uri is None:
            raise InvalidClient("the client has no registered keys")
        keys = await self._keys(client.jwks_uri)
        if _pick(keys, kid, alg) is None:
            # Perhaps the client rotated: look again, if the last look is old enough.
            keys = await self._keys(client.jwks_uri, lacking=keys)
        return _pick_or_invalid_client(keys, kid, alg)

    async def _keys(self, uri: str, lacking: KeySet | None = None) -> KeySet:
        """The live set of ``uri``, fetched first if there is none or it is ``lacking``."""
        entry = self._fetched.get(uri)
        live = self._live(entry)
        if live is not None and live is not lacking:
            return live
        async with self._locks.setdefault(uri, asyncio.Lock()):
            entry = self._fetched.get(uri)
            live = self._live(entry)
            if (live is None or live is lacking) and self._may_fetch(entry):
                live = await self._fetch(uri, entry) or live
        if live is None:
            raise InvalidClient("the client's jwks_uri could not be fetched")
        return live

    def _may_fetch(self, entry: _Fetched | None) -> bool:
        """Whether to ask the URI now that its set is missing, expired or lacks a kid."""
        if entry is None:
            return True
        failed = entry.keys is None or entry.tried_at > entry.fetched_at
        if not failed and self._live(entry) is None:
            return True  # expired after a good fetch: the TTL already spaced the fetches
        # A kid was missing from a live set, or the last fetch failed.
        return time.monotonic() - entry.tried_at >= self._refetch_seconds

    def _live(self, entry: _Fetched | None) -> KeySet | None:
        if entry is None or time.monotonic() - entry.fetched_at >= self._cache_seconds:
            return None
        return entry.keys

    async def _fetch(self, uri: str, previous: _Fetched | None) -> KeySet | None:
        """The set now at ``uri``, None if it cannot be had; remembered either way."""
        now = time.monotonic()
        try:
            keys = public_keys(orjson.loads(await self._download(uri)))
        except (httpx2.HTTPError, httpx2.InvalidURL, TimeoutError, ValueError) as exc:
            logger.warning("client jwks_uri %s unusable: %s", _origin(uri), exc)
            # Keep the last good set until it expires as it would have anyway.
            kept = (None, now) if previous is None else (previous.keys, previous.fetched_at)
            self._fetched[uri] = _Fetched(*kept, tried_at=now)
            return None
        self._fetched[uri] = _Fetched(keys, now, now)
        return keys

    async def _download(self, uri: str) -> bytes:
        body = bytearray()
        async with (
            asyncio.timeout(FETCH_TIMEOUT_SECONDS),
            httpx2.AsyncClient(
                timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False, transport=self._transport
            ) as http,
            http.stream("GET", uri, headers={"Accept": "application/jwk-set+json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"more than {MAX_JWKS_BYTES} bytes")
        return bytes(body)


def public_keys(jwks: Mapping[str, Any]) -> KeySet:
    """The JWK Set as keys; UnusableKeySet if it is not one or holds a private key."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise UnusableKeySet("not a JWK Set")
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise UnusableKeySet(f"not a usable JWK Set ({type(exc).__name__})") from None
    # A client's private key (or an HMAC secret) has no business in a JWK Set
    # that anyone may read: refuse the set rather than trust a leaked key.
    if any(key.is_private for key in keys.keys):
        raise UnusableKeySet("holds a private or symmetric key")
    return keys


def _keys_or_invalid_client(jwks: Mapping[str, Any]) -> KeySet:
    try:
        return public_keys(jwks)
    except UnusableKeySet:
        raise InvalidClient("the client's registered jwks is unusable") from None


def _pick_or_invalid_client(keys: KeySet, kid: str | None, alg: str) -> Key:
    key = _pick(keys, kid, alg)
    if key is None:
        detail = "with this kid" if kid is not None else "(several fit: send a kid)"
        raise InvalidClient(f"no key of the client verifies {alg} {detail}")
    return key


def _pick(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    """The one key that fits ``alg`` (and ``kid`` if given); None if none or several."""
    fitting = [key for key in keys.keys if _fits(key, alg)]
    if kid is not None:
        fitting = [key for key in fitting if key.kid == kid]
    return fitting[0] if len(fitting) == 1 else None


def _fits(key: Key, alg: str) -> bool:
    """Whether ``key`` may verify ``alg``: type and curve, and its own alg and use if set."""
    if key.alg is not None and key.alg != alg:
        return False
    if key.get("use") not in (None, "sig"):
        return False
    if alg.startswith(("RS", "PS")):
        return isinstance(key, RSAKey)
    key_type, curves = _CURVES.get(alg, (type(None), frozenset()))
    return isinstance(key, key_type) and getattr(key, "curve_name", None) in curves


def _origin(url: str) -> str:
    """Scheme, host and port only: a path or query may carry a secret, so it is never logged."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"
