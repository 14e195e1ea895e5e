"""Admin API for signing keys: /admin/keys (list, rotate, retire)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.admin.errors import InvalidField
from tokensmith.admin.keys import KeyAdmin, key_as_json
from tokensmith.endpoints._rendering import json_response
from tokensmith.endpoints.admin._http import audit_admin, json_object, path_value


@dataclass(slots=True, frozen=True)
class KeysEndpoint:
    service: KeyAdmin

    async def list_keys(self, request: Request) -> Response:
        return json_response([key_as_json(state) for state in await self.service.list_keys()])

    async def rotate(self, request: Request) -> Response:
        immediately = (await json_object(request, optional=True)).get("immediately", False)
        if not isinstance(immediately, bool):
            raise InvalidField("immediately: must be true or false", "immediately")
        state = await self.service.rotate(immediately=immediately)
        audit_admin("key.rotated", request, kid=state.kid)
        return json_response(key_as_json(state), 201)

    async def retire(self, request: Request) -> Response:
        kid = path_value(request, "kid")
        state = await self.service.retire(kid)
        audit_admin("key.retired", request, kid=kid)
        return json_response(key_as_json(state))
