"""The check in front of a rate-limited endpoint, and the 429 it answers with.

The endpoint itself knows nothing of this: ``EndpointLimit.wrap`` returns a
handler that counts the request (per source address, then per presented
client_id) and either calls the endpoint or refuses with 429 Too Many
Requests (RFC 6585 section 4) and Retry-After (RFC 9110 section 10.2.3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.audit import audit_event
from tokensmith.endpoints._rendering import json_response
from tokensmith.ratelimit.counters import Hit, WindowCounter, counter_key
from tokensmith.ratelimit.presented import presented_client_id, source_address
from tokensmith.ui.pages import render

__all__ = ["TOO_MANY_REQUESTS", "EndpointLimit", "Handler", "oauth_refusal", "page_refusal"]

Handler = Callable[[Request], Awaitable[Response]]
Refusal = Callable[[int], Response]

TOO_MANY_REQUESTS = "too_many_requests"
"""The OAuth error code of a 429.

RFC 6749 has no code for this. ``slow_down`` (RFC 8628) tells a device client
to poll 5 s slower, which is wrong for other grants, and
``temporarily_unavailable`` means the server is overloaded, not that this
caller is over its share. ``too_many_requests`` names the HTTP status (and is
what Auth0 answers); clients that do not know it still see 429 + Retry-After.
"""


def oauth_refusal(retry_after: int) -> Response:
    """RFC 6749 section 5.2 style JSON, for endpoints that clients call directly."""
    body = {
        "error": TOO_MANY_REQUESTS,
        "error_description": f"too many requests; retry after {retry_after} seconds",
    }
    return json_response(body, 429, {"Retry-After": str(retry_after)})


def page_refusal(retry_after: int) -> Response:
    """A short page, for endpoints a person reaches in a browser."""
    message = f"Too many attempts from your network. Wait {retry_after} seconds and try again."
    response = render("error.html", 429, message=message)
    response.headers["Retry-After"] = str(retry_after)
    return response


@dataclass(slots=True, frozen=True)
class EndpointLimit:
    """The limits of one endpoint; a counter left None is no limit."""

    endpoint: str
    per_address: WindowCounter | None
    per_client: WindowCounter | None
    refusal: Refusal
    max_request_bytes: int

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` behind these limits (``handler`` itself when there are none)."""
        if self.per_address is None and self.per_client is None:
            return handler

        async def rate_limited(request: Request) -> Response:
            refused = await self.check(request)
            return refused if refused is not None else await handler(request)

        return rate_limited

    async def check(self, request: Request) -> Response | None:
        """None when the request may go on, else the 429 to answer with."""
        if self.per_address is not None:
            address = source_address(request)
            hit = await self.per_address.hit(counter_key(address))
            if hit.count > self.per_address.rate.limit:
                return self._refuse(request, self.per_address, hit, "source_address", None)
        if self.per_client is not None:
            client_id = await presented_client_id(request, self.max_request_bytes)
            if client_id is not None:
                hit = await self.per_client.hit(counter_key(client_id))
                if hit.count > self.per_client.rate.limit:
                    return self._refuse(request, self.per_client, hit, "client", client_id)
        return None

    def _refuse(
        self,
        request: Request,
        counter: WindowCounter,
        hit: Hit,
        limited_by: str,
        client_id: str | None,
    ) -> Response:
        # One audit line per key and window, not one per refused request: a
        # flood must not turn into a flood of log lines.
        if hit.count == counter.rate.limit + 1:
            audit_event(
                "rate_limit.exceeded",
                "refused",
                request=request,
                endpoint=self.endpoint,
                limited_by=limited_by,
                client_id=client_id[:200] if client_id is not None else None,
                rate=str(counter.rate),
            )
        return self.refusal(hit.retry_after)
