"""Pushed authorization requests (RFC 9126): parameters held server-side behind a request_uri.

The record lives in the grant store, keyed by the SHA-256 of the request_uri
like every other handle, so any server process can resolve it; ``consume``
makes the single use atomic across processes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tokensmith.errors import InvalidRequestUri
from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant, handle_key
from tokensmith.stores.protocols import GrantStore

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
_KIND = GrantKind.PUSHED_AUTHORIZATION_REQUEST


@dataclass(slots=True, frozen=True)
class PushedRequest:
    """The authorization request parameters exactly as the client pushed them."""

    params: dict[str, str]
    repeated: dict[str, tuple[str, ...]]


class PushedRequests:
    def __init__(
        self, grants: GrantStore, lifetime: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._grants = grants
        self.lifetime = lifetime
        self._clock = clock

    async def push(self, client_id: str, request: PushedRequest) -> str:
        """Store ``request`` for ``client_id``; the request_uri that refers to it."""
        # RFC 9126 section 2.2: the request_uri "MUST contain some part generated
        # using a cryptographically strong pseudorandom algorithm"; 256 bits here.
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        now = int(self._clock())
        await self._grants.save(
            StoredGrant(
                key=handle_key(request_uri),
                kind=_KIND,
                client_id=client_id,
                subject_id=None,
                created_at=now,
                expires_at=now + self.lifetime,
                data={
                    "params": request.params,
                    "repeated": {name: list(values) for name, values in request.repeated.items()},
                },
            )
        )
        return request_uri

    async def take(self, client_id: str, request_uri: str) -> PushedRequest:
        """The pushed request, used up; InvalidRequestUri unless it is live, unused and ours."""
        now = int(self._clock())
        key = handle_key(request_uri)
        record = await self._grants.find(key, _KIND)
        # RFC 9126 section 2.2: "The request_uri value MUST be bound to the
        # client that posted the authorization request." Another client's
        # request_uri is not even consumed, so it cannot be burnt by a stranger.
        if record is None or record.client_id != client_id:
            raise InvalidRequestUri("the request_uri is unknown")
        # RFC 9126 section 4: "An expired request_uri MUST be rejected as invalid."
        if not record.is_live(now):
            raise InvalidRequestUri("the request_uri has expired")
        # RFC 9126 section 4: "Authorization servers SHOULD treat request_uri
        # values as one-time use."
        outcome, _ = await self._grants.consume(key, _KIND, now)
        if outcome is not ConsumeOutcome.CONSUMED:
            raise InvalidRequestUri("the request_uri was already used")
        return PushedRequest(
            params=dict(record.data["params"]),
            repeated={name: tuple(values) for name, values in record.data["repeated"].items()},
        )
