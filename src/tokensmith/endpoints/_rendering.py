"""The one place that writes OAuth JSON and error JSON."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tokensmith.errors import OAuthError

logger = logging.getLogger(__name__)

# RFC 6749 section 5.1: token responses carry "Cache-Control: no-store" (and
# "Pragma: no-cache" for HTTP/1.0 caches); errors are no less private.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
JSON_MEDIA_TYPE = "application/json"


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status_code,
        media_type=JSON_MEDIA_TYPE,
        headers={**NO_STORE, **(headers or {})},
    )


def error_response(error: OAuthError) -> Response:
    return json_response(error.to_dict(), error.status_code, error.headers)


async def handle_oauth_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return error_response(exc)


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    """404/405 and friends as JSON, so every answer has one shape."""
    assert isinstance(exc, HTTPException)
    body = {"error": "invalid_request", "error_description": _safe_detail(exc.detail)}
    return json_response(body, exc.status_code, dict(exc.headers or {}))


async def handle_unexpected(_request: Request, exc: Exception) -> Response:
    """A bug, not a protocol error: log it, tell the client nothing more."""
    logger.exception("unhandled error", exc_info=exc)
    return json_response({"error": "server_error"}, 500)


def _safe_detail(detail: str) -> str:
    return "".join(ch for ch in detail if ch >= " " and ch not in '"\\')
