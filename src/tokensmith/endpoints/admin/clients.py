"""Admin API for clients: /admin/clients (stored ones writable, config ones read-only)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.admin.clients import ClientAdmin
from tokensmith.endpoints._rendering import json_response
from tokensmith.endpoints.admin._http import audit_admin, json_object, path_value


@dataclass(slots=True, frozen=True)
class ClientsEndpoint:
    service: ClientAdmin

    async def list_clients(self, request: Request) -> Response:
        return json_response([view.as_json() for view in await self.service.list_clients()])

    async def create(self, request: Request) -> Response:
        issued = await self.service.create(await json_object(request))
        audit_admin("client.created", request, client_id=issued.view.client.client_id)
        return json_response(issued.as_json(), 201)

    async def show(self, request: Request) -> Response:
        view = await self.service.get(path_value(request, "client_id"))
        return json_response(view.as_json())

    async def update(self, request: Request) -> Response:
        client_id = path_value(request, "client_id")
        issued = await self.service.update(client_id, await json_object(request))
        audit_admin("client.updated", request, client_id=client_id)
        return json_response(issued.as_json())

    async def delete(self, request: Request) -> Response:
        client_id = path_value(request, "client_id")
        await self.service.delete(client_id)
        audit_admin("client.deleted", request, client_id=client_id)
        return Response(status_code=204)

    async def rotate_secret(self, request: Request) -> Response:
        client_id = path_value(request, "client_id")
        issued = await self.service.rotate_secret(client_id)
        audit_admin("client.secret_rotated", request, client_id=client_id)
        return json_response(issued.as_json())
