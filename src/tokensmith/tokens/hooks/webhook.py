"""Custom claims from a webhook: POST the hook input, merge the JSON answer.

The request (what a receiver gets)
----------------------------------
``POST <url>`` with the body ``{"token": {...}, "context": {...}}``. The body is
compact UTF-8 JSON, serialised once and sent exactly as signed. The environment
(the configured secrets) is never sent. It exists for in-process hooks only, so
it never leaves the process.

Headers::

    Content-Type: application/json
    X-Tokensmith-Timestamp: 1718000000          (unix seconds at signing)
    X-Tokensmith-Signature: sha256=<hex>

``<hex>`` is the lower-case hex ``HMAC-SHA256(key=secret, msg=f"{timestamp}.".encode()
+ body)``. The timestamp is part of the signed message, so a captured request
cannot be replayed later with a fresh timestamp. A receiver must check the
signature over the raw body bytes *before* parsing them, and must reject
timestamps far from its own clock. ``verify_signature`` does both, comparing in
constant time::

    ok = verify_signature(
        secret,
        request.headers["X-Tokensmith-Timestamp"],
        await request.body(),
        request.headers["X-Tokensmith-Signature"],
    )

A request can still be replayed within the tolerance window (five minutes by
default). That is harmless for a receiver that only computes claims.

The answer (what tokensmith accepts)
------------------------------------
A 2xx status and a JSON object with exactly one key:

* ``{"claims": {...}}``: add these claims (built-ins still win, see ``tokens/claims.py``);
* ``{"deny": "message"}``: refuse the token request with ``access_denied``.

Anything else fails closed with ``HookFailed``. A plain object of claims is
deliberately refused. Otherwise an endpoint that answers ``{"status": "ok"}`` to
everything would put ``status`` into every token.

Limits
------
* ``timeout_seconds`` bounds the whole exchange (connect, send, wait and read)
  with ``asyncio.timeout``. The HTTP client's own timeouts apply to each read
  separately, so they would let a receiver that drips one byte at a time hold the
  token request open forever.
* ``max_response_bytes`` is checked against ``Content-Length`` before any read.
  The body is then streamed and the read stops as soon as the count passes the
  cap. The request asks for ``Accept-Encoding: identity`` and any encoded answer
  is refused, so the cap counts the bytes that land in memory: a gzip bomb
  cannot expand behind it.
* Redirects are never followed. Following one would send the signed token and
  context to wherever ``Location`` points.
* The owned client keeps httpx2's defaults otherwise, so ``SSL_CERT_FILE`` and the
  proxy variables work as for any other outbound call. Lend a ``client`` to change that.

Failure reasons name the webhook's origin (scheme, host and port) but never its
path or query, which may carry a key. They never name the secret or the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from typing import Any, Final

import httpx2
import orjson

from tokensmith.tokens.hooks.base import HookDenied, HookFailed, HookInput

SIGNATURE_HEADER: Final = "X-Tokensmith-Signature"
TIMESTAMP_HEADER: Final = "X-Tokensmith-Timestamp"
_SCHEME: Final = "sha256="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Tokensmith-Signature`` value; the timestamp is signed so it cannot be swapped."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return _SCHEME + digest


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature_header: str,
    *,
    tolerance_seconds: int = 300,
) -> bool:
    """What a receiver runs on the raw body before trusting it: fresh, and signed by us."""
    text = str(timestamp)
    if not (text.isascii() and text.isdigit()):  # what we send; int() would also take "+1_0 "
        return False
    signed_at = int(text)
    if abs(time.time() - signed_at) > tolerance_seconds:
        return False
    if not signature_header.isascii():
        return False
    expected = sign(secret, signed_at, body)
    return hmac.compare_digest(expected.encode(), signature_header.encode())


class WebhookClaimsHook:
    """A ``ClaimsHook`` that asks an HTTP endpoint for the extra claims.

    One ``httpx2.AsyncClient`` is shared across calls so that connections to
    the receiver are pooled. A client passed in stays the caller's to close.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_seconds: float = 3.0,
        max_response_bytes: int = 64 * 1024,
        client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._url = httpx2.URL(url)
        if self._url.scheme not in ("http", "https") or not self._url.host:
            raise ValueError("webhook url must be an absolute http(s) URL")
        if not secret:
            raise ValueError("webhook secret must not be empty")
        if timeout_seconds <= 0 or max_response_bytes <= 0:
            raise ValueError("webhook timeout and response cap must be positive")
        self._secret = secret
        self._timeout = timeout_seconds
        self._max_bytes = max_response_bytes
        self._owns_client = client is None
        self._client = client if client is not None else httpx2.AsyncClient()
        port = f":{self._url.port}" if self._url.port is not None else ""
        self._origin = f"{self._url.scheme}://{self._url.host}{port}"

    def __repr__(self) -> str:
        return f"WebhookClaimsHook({self._origin!r})"

    async def aclose(self) -> None:
        """Close the pooled connections, unless the client was lent to us."""
        if self._owns_client:
            await self._client.aclose()

    async def run(self, hook_input: HookInput) -> dict[str, Any]:
        """POST the signed input and read the answer; see the module docstring."""
        body = self._encode(hook_input)
        raw = await self._exchange(body)
        return _interpret(_decode(raw, self._origin), self._origin)

    def _encode(self, hook_input: HookInput) -> bytes:
        # Only token and context: the environment holds secrets and stays here.
        try:
            return orjson.dumps({"token": hook_input.token, "context": hook_input.context})
        except orjson.JSONEncodeError:
            raise HookFailed("webhook input is not JSON-serialisable") from None

    async def _exchange(self, body: bytes) -> bytes:
        """The whole round trip under one deadline, every transport error mapped to HookFailed."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._post(body)
        except (TimeoutError, httpx2.TimeoutException):
            raise HookFailed(f"webhook {self._origin} timed out after {self._timeout}s") from None
        except httpx2.HTTPError as exc:
            reason = f"webhook {self._origin} request failed: {type(exc).__name__}"
            raise HookFailed(reason) from None

    async def _post(self, body: bytes) -> bytes:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        async with self._client.stream(
            "POST",
            self._url,
            content=body,
            headers=headers,
            follow_redirects=False,  # per request, so a lent client cannot turn it on
            timeout=self._timeout,
        ) as response:
            self._check_head(response)
            return await self._read_capped(response)

    def _check_head(self, response: httpx2.Response) -> None:
        """Refuse on status, encoding or declared size before reading a byte of the body."""
        if not response.is_success:
            raise HookFailed(f"webhook {self._origin} answered HTTP {response.status_code}")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding != "identity":
            raise HookFailed(f"webhook {self._origin} answered an encoded body ({encoding})")
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise HookFailed(self._too_large())

    async def _read_capped(self, response: httpx2.Response) -> bytes:
        # Raw bytes, counted as they arrive: memory never holds more than the
        # cap plus one network chunk, whatever the receiver sends.
        chunks: list[bytes] = []
        received = 0
        async with contextlib.aclosing(response.aiter_raw()) as stream:
            async for chunk in stream:
                received += len(chunk)
                if received > self._max_bytes:
                    raise HookFailed(self._too_large())
                chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> str:
        return f"webhook {self._origin} answer is over {self._max_bytes} bytes"


def _decode(raw: bytes, origin: str) -> dict[str, Any]:
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HookFailed(f"webhook {origin} answer is not JSON") from None
    if not isinstance(answer, dict):
        raise HookFailed(f"webhook {origin} answer is not a JSON object")
    return answer


def _interpret(answer: dict[str, Any], origin: str) -> dict[str, Any]:
    """Exactly ``{"claims": {...}}`` or ``{"deny": "message"}``; nothing is guessed."""
    claims = answer.get("claims")
    if answer.keys() == {"claims"} and isinstance(claims, dict):
        return claims
    if answer.keys() == {"deny"} and isinstance(answer["deny"], str):
        raise HookDenied(answer["deny"])
    raise HookFailed(f'webhook {origin} answer is neither {{"claims": {{}}}} nor {{"deny": ""}}')


__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookClaimsHook", "sign", "verify_signature"]
