"""Admin API for API resources and their scopes: /admin/resources."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.admin.resources import ResourceAdmin
from tokensmith.endpoints._rendering import json_response
from tokensmith.endpoints.admin._http import audit_admin, json_object, path_value


@dataclass(slots=True, frozen=True)
class ResourcesEndpoint:
    service: ResourceAdmin

    async def list_resources(self, request: Request) -> Response:
        return json_response([view.as_json() for view in await self.service.list_resources()])

    async def create(self, request: Request) -> Response:
        view = await self.service.create(await json_object(request))
        audit_admin("resource.created", request, audience=view.resource.audience)
        return json_response(view.as_json(), 201)

    async def show(self, request: Request) -> Response:
        return json_response((await self.service.get(path_value(request, "audience"))).as_json())

    async def update(self, request: Request) -> Response:
        audience = path_value(request, "audience")
        view = await self.service.update(audience, await json_object(request))
        audit_admin("resource.updated", request, audience=audience)
        return json_response(view.as_json())

    async def delete(self, request: Request) -> Response:
        audience = path_value(request, "audience")
        await self.service.delete(audience)
        audit_admin("resource.deleted", request, audience=audience)
        return Response(status_code=204)
