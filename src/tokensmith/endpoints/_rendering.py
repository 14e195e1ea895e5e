"""The one place that writes OAuth JSON and error JSON."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

import orjson
from redis import exceptions as redis_errors
from sqlalchemy import exc as db
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tokensmith.errors import InvalidRequest, OAuthError, TemporarilyUnavailable
from tokensmith.ui.pages import render

logger = logging.getLogger(__name__)

# RFC 6749 section 5.1: token responses carry "Cache-Control: no-store" (and
# "Pragma: no-cache" for HTTP/1.0 caches); errors are no less private.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
JSON_MEDIA_TYPE = "application/json"


_NO_STORE_JSON_RAW = [
    *(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in NO_STORE.items()
    ),
    (b"content-type", JSON_MEDIA_TYPE.encode("latin-1")),
]


class NoStoreJsonResponse(Response):
    """A JSON body with the no-store headers, encoded once rather than per response.

    Every token, introspection and error answer is one of these; Starlette's
    ``init_headers`` would encode and search the same header names each time.
    """

    media_type = JSON_MEDIA_TYPE

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        if headers:
            super().init_headers({**NO_STORE, **headers})
            return
        length = str(len(self.body)).encode("latin-1")
        self.raw_headers = [*_NO_STORE_JSON_RAW, (b"content-length", length)]


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return NoStoreJsonResponse(orjson.dumps(body), status_code=status_code, headers=headers)


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


# PostgreSQL SQLSTATE classes that say "not now" rather than "wrong": connection
# exception, insufficient resources, operator intervention (shutdown, cannot
# connect now), transaction rollback (serialization failure, deadlock); and
# invalid catalog name (the database is gone).
_TRANSIENT_SQLSTATES = ("08", "53", "57", "40", "3D")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is busy or out of reach, rather than a bug.

    SQLite's "database is locked" and PostgreSQL's lost connections are
    OperationalError or InterfaceError; asyncpg raises the socket's own
    ConnectionRefusedError when the server is down. Redis (short-lived state,
    when configured) raises its own ConnectionError and TimeoutError.
    """
    if isinstance(exc, ConnectionError | socket.gaierror | db.DisconnectionError | db.TimeoutError):
        return True
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return True
    if not isinstance(exc, db.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, db.OperationalError | db.InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES)


_UNSTORABLE_TEXT_SQLSTATES = ("22021", "22P05")
"""PostgreSQL's character_not_in_repertoire (a NUL, invalid UTF-8) and untranslatable_character."""


def unstorable_text(exc: BaseException) -> bool:
    """Whether the database refused a value's characters: text PostgreSQL cannot hold.

    A client can send them (a NUL in a client_id or a username); no stored row
    can match such a value, so the request is bad, not the server.
    """
    if not isinstance(exc, db.DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT_SQLSTATES


async def handle_database_error(request: Request, exc: Exception) -> Response:
    """503 temporarily_unavailable (with Retry-After) when the database is busy or down.

    The request's transaction was rolled back (``engine.begin()`` does that on
    any exception), so the client may simply retry. A value whose characters the
    database cannot hold is the request's fault: 400 invalid_request. Other
    database errors are bugs.
    """
    if unstorable_text(exc):
        refused = InvalidRequest("the request holds characters that are not allowed")
        return _error_for(request, refused, "The request is not valid.")
    if not database_unavailable(exc):
        return await handle_unexpected(request, exc)
    logger.warning("database unavailable: %s", exc.__class__.__name__, exc_info=exc)
    error = TemporarilyUnavailable("the database is busy or unreachable; retry later")
    return _error_for(request, error, "The service is busy. Please try again in a moment.")


def _error_for(request: Request, error: OAuthError, page_message: str) -> Response:
    """``error`` as RFC 6749 JSON, or to a browser as the pages' own error page (as login
    and consent render errors), with the error's headers (Retry-After) either way."""
    if "text/html" not in request.headers.get("accept", ""):
        return error_response(error)
    page = render("error.html", error.status_code, message=page_message)
    page.headers.update(error.headers)
    return page


DATABASE_ERROR_HANDLERS: dict[Any, Any] = {
    db.SQLAlchemyError: handle_database_error,
    ConnectionError: handle_database_error,
    socket.gaierror: handle_database_error,
    redis_errors.RedisError: handle_database_error,
}
"""For ``create_app``'s exception handlers: answered inside the app, not re-raised."""


def _safe_detail(detail: str) -> str:
    return "".join(ch for ch in detail if ch >= " " and ch not in '"\\')
