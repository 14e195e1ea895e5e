"""Every admin API route, behind the admin guard, built from the composed components."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from tokensmith.admin.clients import ClientAdmin
from tokensmith.admin.keys import KeyAdmin
from tokensmith.admin.resources import ResourceAdmin
from tokensmith.admin.users import UserAdmin
from tokensmith.endpoints.admin._http import admin_errors
from tokensmith.endpoints.admin.auth import AdminGuard
from tokensmith.endpoints.admin.claims import ClaimsAdmin
from tokensmith.endpoints.admin.clients import ClientsEndpoint
from tokensmith.endpoints.admin.keys import KeysEndpoint
from tokensmith.endpoints.admin.resources import ResourcesEndpoint
from tokensmith.endpoints.admin.users import UsersEndpoint
from tokensmith.settings import Settings
from tokensmith.stores.config import client_from_config


def admin_routes(settings: Settings, components: dict[str, Any], guard: AdminGuard) -> list[Route]:
    clients = ClientsEndpoint(
        ClientAdmin(
            components["sql_clients"],
            [client_from_config(c) for c in settings.clients],
            components["resources"],
            components["grant_registry"].grant_types,
        )
    )
    resources = ResourcesEndpoint(ResourceAdmin(components["resources"]))
    users = UsersEndpoint(UserAdmin(components["users"]))
    keys = KeysEndpoint(KeyAdmin(components["keys"]))
    claims = ClaimsAdmin(components["claim_scripts"], components["custom_claims"])
    client, resource, user = (
        "/admin/clients/{client_id:path}",
        "/admin/resources/{audience:path}",
        "/admin/users/{username:path}",
    )
    script = "/admin/claims/scripts/{kind}"
    table: list[tuple[str, str, Any]] = [
        ("GET", "/admin/clients", clients.list_clients),
        ("POST", "/admin/clients", clients.create),
        ("POST", f"{client}/secret", clients.rotate_secret),
        ("GET", client, clients.show),
        ("PUT", client, clients.update),
        ("DELETE", client, clients.delete),
        ("GET", "/admin/resources", resources.list_resources),
        ("POST", "/admin/resources", resources.create),
        ("GET", resource, resources.show),
        ("PUT", resource, resources.update),
        ("DELETE", resource, resources.delete),
        ("GET", "/admin/users", users.list_users),
        ("POST", "/admin/users", users.create),
        ("PUT", f"{user}/password", users.set_password),
        ("GET", user, users.show),
        ("PATCH", user, users.update),
        ("GET", "/admin/keys", keys.list_keys),
        ("POST", "/admin/keys/rotate", keys.rotate),
        ("POST", "/admin/keys/{kid}/retire", keys.retire),
        ("GET", "/admin/claims/scripts", claims.list_scripts),
        ("GET", script, claims.get_script),
        ("PUT", script, claims.put_script),
        ("DELETE", script, claims.delete_script),
        ("POST", "/admin/claims/test", claims.test),
    ]
    return [
        Route(path, guard.protect(admin_errors(handler)), methods=[method])
        for method, path, handler in table
    ]
