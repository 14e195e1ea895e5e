"""What every admin endpoint shares: reading a JSON object body, rendering refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tokensmith.admin.errors import AdminError, BodyTooLarge, InvalidField
from tokensmith.audit import AuditValue, admin_actor, audit_event
from tokensmith.endpoints._rendering import json_response

MAX_BODY_BYTES = 256 * 1024
Handler = Callable[[Request], Awaitable[Response]]


def admin_errors(handler: Handler) -> Handler:
    """``handler`` with the admin services' refusals answered as JSON with their status."""

    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except AdminError as exc:
            return json_response(exc.to_dict(), exc.status_code)

    return handle


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (``optional``: an empty body is ``{}``)."""
    no_body = not request.headers.get("content-length", "0").strip("0 ")
    if optional and no_body and "transfer-encoding" not in request.headers:
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise InvalidField("the body must be application/json")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidField("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidField("the body must be a JSON object")
    return data


def path_value(request: Request, name: str) -> str:
    return str(request.path_params[name])


def audit_admin(event: str, request: Request, **fields: AuditValue) -> None:
    """``admin.<event>`` with the holder of the admin token as actor."""
    audit_event(f"admin.{event}", "success", request=request, actor=admin_actor(request), **fields)
