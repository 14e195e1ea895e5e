"""The ``tokensmith`` command: ``serve``, and the ``users`` and ``claims`` groups."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from tokensmith._cli_common import config_option, fail, load_settings
from tokensmith.app import CONFIG_FILE_VARIABLE, create_app
from tokensmith.bootstrap import prepare
from tokensmith.cli_claims import claims
from tokensmith.cli_clients import clients, resources
from tokensmith.cli_keys import keys
from tokensmith.housekeeping import purge_expired
from tokensmith.http_protocol import HttpProtocol
from tokensmith.logging_setup import log_config
from tokensmith.models.user import User
from tokensmith.settings import ConfigError, Settings
from tokensmith.stores.sql.engine import create_engine, create_schema, sqlite_file
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.migrate import current_revision
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users import admin

T = TypeVar("T")

_config_option = config_option
_load_settings = load_settings
_fail = fail


@click.group()
def main() -> None:
    """tokensmith: an OAuth 2.0 / OpenID Connect authorization server."""


@main.command()
@_config_option
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000).")
@click.option("--access-log/--no-access-log", default=False, help="Log every request.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, help="Worker processes.")
def serve(
    config_file: Path | None, host: str | None, port: int | None, access_log: bool, workers: int
) -> None:
    """Start the server (creating the data folder, key and demo client on first start)."""
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        settings = Settings.load(config_file, **overrides)
        for helper in ("signing_process", "sqlite_process"):
            if getattr(settings, helper) == "auto":
                overrides[helper] = helper_process_for(workers, available_cpus())
                settings = settings.model_copy(update={helper: overrides[helper]})
        app = create_app(settings, freeze_heap=True)
        prepared = asyncio.run(prepare(settings))
    except ConfigError as exc:
        click.echo(f"tokensmith: {exc}", err=True)
        sys.exit(2)
    click.echo(f"tokensmith issuer:  {settings.issuer_url}")
    click.echo(f"data folder:        {settings.data_dir.resolve()}")
    click.echo(f"database:           {_redacted(settings.database)}")
    click.echo(f"signing key (kid):  {prepared.signing_kid}")
    signing = "a process beside each worker" if settings.signing_process == "on" else "the workers"
    click.echo(f"tokens signed in:   {signing}")
    if settings.sqlite_process == "on" and sqlite_file(settings.database) is not None:
        click.echo("SQLite work in:     a process beside each worker")
    if prepared.demo is not None:
        click.echo("")
        click.echo("Created a demo client. Its secret is shown this once and stored only hashed:")
        click.echo(f"  client_id:     {prepared.demo.client_id}")
        click.echo(f"  client_secret: {prepared.demo.client_secret}")
        click.echo("Get a token:")
        click.echo(
            f"  curl -s -u '{prepared.demo.client_id}:{prepared.demo.client_secret}' "
            f"-d grant_type=client_credentials {settings.issuer_url}/token"
        )
    sys.stdout.flush()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": access_log,
        "log_level": "info",
        "log_config": log_config(audit=settings.audit_log),
        "server_header": False,
        "http": HttpProtocol,
    }
    if workers == 1:
        uvicorn.run(app, **options)
        return
    # Each worker builds its own app from the same config file and overrides.
    _export_for_workers(config_file, overrides)
    uvicorn.run("tokensmith.app:app_from_environment", factory=True, workers=workers, **options)


def helper_process_for(workers: int, cpus: int) -> str:
    """``signing_process`` and ``sqlite_process`` = "auto" for ``serve``: "on" while
    workers leave a CPU free."""
    return "on" if cpus > workers else "off"


def available_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use: its affinity, narrowed by a cgroup v2 CPU quota (a
    container's ``--cpus``) when there is one."""
    affinity = getattr(os, "sched_getaffinity", None)  # not on macOS
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def _export_for_workers(config_file: Path | None, overrides: dict[str, Any]) -> None:
    if config_file is None and Path("tokensmith.toml").is_file():
        config_file = Path("tokensmith.toml")
    if config_file is not None:
        os.environ[CONFIG_FILE_VARIABLE] = str(config_file.resolve())
    for name, value in overrides.items():
        os.environ[f"TOKENSMITH_{name.upper()}"] = str(value)
    # Workers are separate processes: prometheus_client's multiprocess mode sums them.
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="tokensmith-metrics-")
    )


@main.command()
@_config_option
def migrate(config_file: Path | None) -> None:
    """Bring the database to the newest schema (serve also does this on start)."""
    settings = _load_settings(config_file)

    async def run() -> str | None:
        if settings.database.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database)
        try:
            await create_schema(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"database {_redacted(settings.database)} is at revision {asyncio.run(run())}")


@main.command()
@_config_option
def purge(config_file: Path | None) -> None:
    """Delete grants that expired longer ago than purge_grace_seconds."""
    settings = _load_settings(config_file)

    async def run() -> int:
        if settings.database.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database)
        try:
            await create_schema(engine)
            return await purge_expired(SqlGrantStore(engine), settings)
        finally:
            await engine.dispose()

    click.echo(f"purged {asyncio.run(run())} expired grants")


def _redacted(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return database_url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{location}"


@main.group()
def users() -> None:
    """Manage the users stored in the configured database."""


_password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)


@users.command("add")
@_config_option
@click.argument("username", callback=lambda _ctx, _param, value: _username(value))
@click.option("--email", default=None, help="The user's email address.")
@click.option("--email-verified/--no-email-verified", default=False, help="Mark it verified.")
@click.option("--given-name", default=None, help="OpenID Connect given_name claim.")
@click.option("--family-name", default=None, help="OpenID Connect family_name claim.")
@click.option("--name", default=None, help="OpenID Connect name claim (full name).")
@click.option("--role", "roles", multiple=True, help="A role; repeat for several.")
@click.option(
    "--custom-data",
    default=None,
    callback=lambda _ctx, _param, value: _json_object(value),
    help="Free-form JSON object, reaching tokens only through hooks.",
)
@_password_stdin_option
def add_user(config_file: Path | None, password_stdin: bool, **options: Any) -> None:
    """Create a user and print its subject id (sub)."""
    settings = _load_settings(config_file)
    user = _user_from_options(**options)
    password = _read_password(password_stdin)
    _run(settings, lambda store: admin.create_user(store, user, password))
    click.echo(user.subject_id)


@users.command("list")
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of lines.")
def list_users(config_file: Path | None, as_json: bool) -> None:
    """One line per user: username, sub, email, roles, enabled/disabled."""
    found = _run(_load_settings(config_file), lambda store: store.list_users())
    if as_json:
        click.echo(json.dumps([admin.user_as_json(user) for user in found], indent=2))
        return
    if not found:
        click.echo("no users", err=True)
    for line in _aligned([admin.user_as_columns(user) for user in found]):
        click.echo(line)


@users.command("set-password")
@_config_option
@click.argument("username")
@_password_stdin_option
def set_password(config_file: Path | None, username: str, password_stdin: bool) -> None:
    """Replace a user's password."""
    settings = _load_settings(config_file)
    password = _read_password(password_stdin)
    _run(settings, lambda store: admin.change_password(store, username, password))
    click.echo(f"password changed for {username!r}", err=True)


@users.command("disable")
@_config_option
@click.argument("username")
def disable_user(config_file: Path | None, username: str) -> None:
    """Refuse the user's logins from now on; the user and their sub are kept."""
    _run(_load_settings(config_file), lambda store: admin.set_enabled(store, username, False))
    click.echo(f"disabled {username!r}", err=True)


@users.command("enable")
@_config_option
@click.argument("username")
def enable_user(config_file: Path | None, username: str) -> None:
    """Allow a disabled user to log in again."""
    _run(_load_settings(config_file), lambda store: admin.set_enabled(store, username, True))
    click.echo(f"enabled {username!r}", err=True)


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as lines with each column padded to its widest cell, for reading by eye."""
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _run(settings: Settings, action: Callable[[SqlUserStore], Awaitable[T]]) -> T:
    """Run ``action`` on the configured user store; refusals and database errors exit 1."""

    async def run() -> T:
        async with admin.open_user_store(settings) as store:
            return await action(store)

    try:
        return asyncio.run(run())
    except admin.UserAdminError as exc:
        _fail(str(exc), 1)
    except (SQLAlchemyError, OSError) as exc:
        _fail(f"database {_redacted(settings.database)}: {_database_problem(exc)}", 1)


def _database_problem(exc: SQLAlchemyError | OSError) -> str:
    """The driver's own words: SQLAlchemy's message lists the statement's parameters,
    which may include a password hash, so it is never shown.
    """
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(cause, SQLAlchemyError):
        return type(cause).__name__
    return f"{type(cause).__name__}: {cause}".splitlines()[0]


def _read_password(from_stdin: bool) -> str:
    """The new password, checked before any database work so a bad one writes nothing."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        admin.check_password(password)
    except admin.UserAdminError as exc:
        _fail(str(exc), 1)
    return password


def _user_from_options(
    username: str,
    email: str | None,
    email_verified: bool,
    roles: tuple[str, ...],
    custom_data: dict[str, Any],
    **profile: str | None,
) -> User:
    if email_verified and email is None:
        raise click.BadParameter("needs --email", param_hint="--email-verified")
    return User(
        subject_id=admin.new_subject_id(),
        username=username,
        email=email,
        email_verified=email_verified,
        profile={claim: value for claim, value in profile.items() if value is not None},
        roles=tuple(dict.fromkeys(roles)),
        custom_data=custom_data,
    )


def _username(value: str) -> str:
    # The users table holds 200 characters; surrounding blanks are almost always a typo.
    if not value or len(value) > 200 or value != value.strip() or not value.isprintable():
        raise click.BadParameter("1 to 200 printable characters, no surrounding blanks")
    return value


def _json_object(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object")
    return data


main.add_command(claims)
main.add_command(clients)
main.add_command(resources)
main.add_command(keys)
