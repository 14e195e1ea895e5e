"""Ping mode (CIBA Core 1.0 section 10.2): tell the client its request was decided.

After the user approves or denies, the server POSTs ``{"auth_req_id": ...}``
as JSON to the client's registered notification endpoint, authorised with
the client_notification_token as a Bearer token; the client then fetches the
result at the token endpoint. Delivery runs after the user's answer has been
sent (a Starlette background task) and never raises: a client that is down
or slow changes nothing for the user, and the client can still poll.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import httpx2

from tokensmith.ciba.store import BackchannelRequestStore, PingTarget
from tokensmith.models.grant import StoredGrant

logger = logging.getLogger(__name__)


class PingDelivery:
    def __init__(
        self,
        requests: BackchannelRequestStore,
        timeout_seconds: float,
        transport: httpx2.AsyncBaseTransport | None = None,
    ):
        self._requests = requests
        self._timeout = timeout_seconds
        self._transport = transport

    async def deliver(self, decided: StoredGrant) -> None:
        """Ping the client of a decided request; log (never raise) when that fails."""
        try:
            target = self._requests.ping_target(decided)
        except Exception:
            logger.exception("cannot unseal the ping details of a CIBA request")
            return
        if target is None:
            return
        origin = _origin(target.endpoint)
        try:
            status = await self._post(target)
        except (TimeoutError, httpx2.TimeoutException):
            logger.warning("CIBA ping to %s timed out after %ss", origin, self._timeout)
        except httpx2.HTTPError as exc:
            logger.warning("CIBA ping to %s failed: %s", origin, type(exc).__name__)
        except Exception:
            logger.exception("CIBA ping to %s failed unexpectedly", origin)
        else:
            # Section 10.2: the endpoint "SHOULD respond with an HTTP 204 No
            # Content"; 200 is accepted too, and any body is ignored.
            if not 200 <= status < 300:
                logger.warning("CIBA ping to %s answered HTTP %d", origin, status)

    async def _post(self, target: PingTarget) -> int:
        # The whole exchange is bounded, not each read: a client that drips
        # its answer cannot hold the task open. Section 10.2: "The OP MUST NOT
        # follow redirects."
        async with (
            asyncio.timeout(self._timeout),
            httpx2.AsyncClient(
                timeout=self._timeout, follow_redirects=False, transport=self._transport
            ) as http,
        ):
            response = await http.post(
                target.endpoint,
                json={"auth_req_id": target.auth_req_id},
                headers={"Authorization": f"Bearer {target.client_notification_token}"},
            )
            return response.status_code


def _origin(url: str) -> str:
    """Scheme, host and port only: a path or query may carry a key, so it is never logged."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"
