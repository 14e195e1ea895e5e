"""``tokensmith clients`` and ``tokensmith resources``: the stored records, from a shell.

The same ``admin`` services as the admin API, so both accept the same bodies
and change the same rows; running servers see a change within a second (see
``stores.sql.client_cache``). A generated secret is printed once, on stdout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from tokensmith._cli_common import config_option, fail, load_settings
from tokensmith.admin.clients import ClientAdmin
from tokensmith.admin.errors import AdminError
from tokensmith.admin.resources import ResourceAdmin
from tokensmith.composition import admin_api_resource
from tokensmith.keys.encryption import load_key_encryptor
from tokensmith.settings import ConfigError, Settings
from tokensmith.stores.config import client_from_config, resource_from_config
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.resources import ChainedResourceStore, SqlResourceStore

T = TypeVar("T")


@click.group()
def clients() -> None:
    """Clients stored in the database (config-file clients are shown, never changed)."""


@clients.command("add")
@config_option
@click.argument("client_id")
@click.option("--method", "token_endpoint_auth_method", default="client_secret_basic")
@click.option("--grant-type", "grant_types", multiple=True, help="Repeat for several.")
@click.option("--scope", "scopes", multiple=True, help="Repeat for several.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for several.")
@click.option("--name", "client_name", default=None)
@click.option("--json", "body_json", default=None, help="Any other fields, as a JSON object.")
def add(config_file: Path | None, client_id: str, body_json: str | None, **options: Any) -> None:
    """Store a client; print its generated secret (if it has one) on stdout, once."""
    body: dict[str, Any] = _json_object(body_json)
    body.update(
        {name: list(value) for name, value in options.items() if isinstance(value, tuple) and value}
    )
    body["client_id"] = client_id
    body["token_endpoint_auth_method"] = options["token_endpoint_auth_method"]
    if options["client_name"] is not None:
        body["client_name"] = options["client_name"]
    issued = _run(load_settings(config_file), lambda admin, _: admin.create(body))
    if issued.client_secret is not None:
        click.echo(issued.client_secret)
    click.echo(f"added client {client_id}", err=True)


@clients.command("list")
@config_option
def list_clients(config_file: Path | None) -> None:
    """One line per client: id, source (config or database), auth method, grant types."""
    views = _run(load_settings(config_file), lambda admin, _: admin.list_clients())
    for view in views:
        grants = ",".join(sorted(view.client.grant_types)) or "-"
        method = view.client.token_endpoint_auth_method
        click.echo(f"{view.client.client_id}  {view.source}  {method}  {grants}")


@clients.command("show")
@config_option
@click.argument("client_id")
def show(config_file: Path | None, client_id: str) -> None:
    """The client as JSON (the admin API's shape; never a secret)."""
    view = _run(load_settings(config_file), lambda admin, _: admin.get(client_id))
    click.echo(json.dumps(view.as_json(), indent=2))


@clients.command("delete")
@config_option
@click.argument("client_id")
def delete(config_file: Path | None, client_id: str) -> None:
    _run(load_settings(config_file), lambda admin, _: admin.delete(client_id))
    click.echo(f"deleted client {client_id}", err=True)


@clients.command("rotate-secret")
@config_option
@click.argument("client_id")
def rotate_secret(config_file: Path | None, client_id: str) -> None:
    """Replace the client's secret; print the new one on stdout (the old one stops working)."""
    issued = _run(load_settings(config_file), lambda admin, _: admin.rotate_secret(client_id))
    click.echo(issued.client_secret)


@click.group()
def resources() -> None:
    """API resources stored in the database (config-file ones are shown, never changed)."""


@resources.command("add")
@config_option
@click.argument("audience")
@click.option("--scope", "scopes", multiple=True, help="A scope it owns; repeat for several.")
@click.option("--name", default=None)
@click.option("--format", "access_token_format", type=click.Choice(["jwt", "opaque"]))
def add_resource(config_file: Path | None, audience: str, **options: Any) -> None:
    body = {"audience": audience, **{k: v for k, v in options.items() if v not in (None, ())}}
    body["scopes"] = list(options["scopes"])
    _run(load_settings(config_file), lambda _, admin: admin.create(body))
    click.echo(f"added API resource {audience}", err=True)


@resources.command("list")
@config_option
def list_resources(config_file: Path | None) -> None:
    """One line per API resource: audience, source, token format, scopes."""
    views = _run(load_settings(config_file), lambda _, admin: admin.list_resources())
    for view in views:
        resource = view.resource
        scopes = ",".join(sorted(resource.scopes)) or "-"
        click.echo(f"{resource.audience}  {view.source}  {resource.access_token_format}  {scopes}")


@resources.command("delete")
@config_option
@click.argument("audience")
def delete_resource(config_file: Path | None, audience: str) -> None:
    _run(load_settings(config_file), lambda _, admin: admin.delete(audience))
    click.echo(f"deleted API resource {audience}", err=True)


def _run(settings: Settings, action: Callable[[ClientAdmin, ResourceAdmin], Awaitable[T]]) -> T:
    async def run() -> T:
        if settings.database.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database)
        try:
            await create_schema(engine)
            configured = [resource_from_config(r) for r in settings.api_resources]
            resources = ChainedResourceStore(
                [*configured, admin_api_resource(settings)], SqlResourceStore(engine)
            )
            store = SqlClientStore(engine, load_key_encryptor(settings))
            configured_clients = [client_from_config(c) for c in settings.clients]
            client_admin = ClientAdmin(store, configured_clients, resources)
            return await action(client_admin, ResourceAdmin(resources))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except AdminError as exc:
        fail(exc.message, 1)
    except ConfigError as exc:
        fail(str(exc), 1)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"database: {type(exc).__name__}", 1)


def _json_object(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        raise click.BadParameter("not valid JSON", param_hint="--json") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--json")
    return data
