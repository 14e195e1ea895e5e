"""Admin API for users: /admin/users (paged by username), profile, roles, password."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.admin.errors import InvalidField
from tokensmith.admin.users import MAX_PAGE, UserAdmin
from tokensmith.endpoints._rendering import json_response
from tokensmith.endpoints.admin._http import audit_admin, json_object, path_value
from tokensmith.users.admin import user_as_json

DEFAULT_PAGE = 50


@dataclass(slots=True, frozen=True)
class UsersEndpoint:
    service: UserAdmin

    async def list_users(self, request: Request) -> Response:
        """One page; ``next`` is the ``after`` value of the following page (null at the end)."""
        after = request.query_params.get("after")
        limit = _limit(request.query_params.get("limit"))
        users = await self.service.list_users(after=after, limit=limit)
        following = users[-1].username if len(users) == limit else None
        return json_response({"users": [user_as_json(u) for u in users], "next": following})

    async def create(self, request: Request) -> Response:
        user = await self.service.create(await json_object(request))
        audit_admin("user.created", request, username=user.username, subject=user.subject_id)
        return json_response(user_as_json(user), 201)

    async def show(self, request: Request) -> Response:
        return json_response(user_as_json(await self.service.get(path_value(request, "username"))))

    async def update(self, request: Request) -> Response:
        username = path_value(request, "username")
        user = await self.service.update(username, await json_object(request))
        audit_admin("user.updated", request, username=username, subject=user.subject_id)
        return json_response(user_as_json(user))

    async def set_password(self, request: Request) -> Response:
        username = path_value(request, "username")
        await self.service.set_password(username, await json_object(request))
        audit_admin("user.password_set", request, username=username)
        return Response(status_code=204)


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE
    # ASCII digits, no more of them than MAX_PAGE has: int() refuses "²", which
    # str.isdigit() accepts, and strings over 4300 digits; either was a 500.
    digits = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_PAGE))
    if not digits or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidField(f"limit: a whole number from 1 to {MAX_PAGE}", "limit")
    return int(value)
