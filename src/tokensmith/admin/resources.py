"""API resource administration: stored resources and the scopes they own.

A body is checked by ``settings.ApiResourceConfig``, as the file's
``[[api_resources]]`` are; resources from the config file (and the server's
own admin API) are read-only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from tokensmith.admin.errors import Conflict, InvalidField, NotFound, invalid_body
from tokensmith.models.resource import ApiResource
from tokensmith.settings import ApiResourceConfig
from tokensmith.stores.config import resource_from_config
from tokensmith.stores.sql.resources import ChainedResourceStore


@dataclass(slots=True, frozen=True)
class ResourceView:
    resource: ApiResource
    source: str

    def as_json(self) -> dict[str, Any]:
        return {
            "audience": self.resource.audience,
            "name": self.resource.name,
            "scopes": sorted(self.resource.scopes),
            "access_token_format": self.resource.access_token_format,
            "introspecting_clients": sorted(self.resource.introspecting_clients),
            "source": self.source,
        }


class ResourceAdmin:
    def __init__(self, resources: ChainedResourceStore):
        self._resources = resources

    async def list_resources(self) -> list[ResourceView]:
        configured = [ResourceView(r, "config") for r in self._resources.configured]
        stored = [
            ResourceView(r, "database")
            for r in await self._resources.stored.list_resources()
            if not self._resources.is_configured(r.audience)
        ]
        return sorted([*configured, *stored], key=lambda view: view.resource.audience)

    async def get(self, audience: str) -> ResourceView:
        for resource in self._resources.configured:
            if resource.audience == audience:
                return ResourceView(resource, "config")
        stored = await self._resources.stored.find_api_resource(audience)
        if stored is None:
            raise NotFound(f"no API resource {audience!r}")
        return ResourceView(stored, "database")

    async def create(self, body: Mapping[str, Any]) -> ResourceView:
        resource = _validated(body)
        self._check_writable(resource.audience)
        try:
            await self._resources.add_resource(resource)
        except IntegrityError:
            raise Conflict(f"an API resource {resource.audience!r} exists already") from None
        return ResourceView(resource, "database")

    async def update(self, audience: str, body: Mapping[str, Any]) -> ResourceView:
        self._check_writable(audience)
        if body.get("audience", audience) != audience:
            raise InvalidField("audience: does not match the path", "audience")
        resource = _validated({**body, "audience": audience})
        if not await self._resources.replace_resource(resource):
            raise NotFound(f"no API resource {audience!r}")
        return ResourceView(resource, "database")

    async def delete(self, audience: str) -> None:
        self._check_writable(audience)
        if not await self._resources.remove_resource(audience):
            raise NotFound(f"no API resource {audience!r}")

    def _check_writable(self, audience: str) -> None:
        if self._resources.is_configured(audience):
            raise Conflict(
                f"API resource {audience!r} comes from the config file (or the server itself) "
                "and is read-only here",
                "audience",
            )


def _validated(body: Mapping[str, Any]) -> ApiResource:
    try:
        return resource_from_config(ApiResourceConfig.model_validate(dict(body)))
    except ValidationError as exc:
        raise invalid_body(exc) from None
