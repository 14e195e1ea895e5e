"""``tokensmith keys``: list, rotate and retire the signing keys in the configured database.

Running servers pick changes up at their next reload (``key_reload_seconds``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from tokensmith._cli_common import config_option, fail, load_settings
from tokensmith.keys.encryption import load_key_encryptor
from tokensmith.keys.lifecycle import KeyState
from tokensmith.keys.policy import KeyPolicy
from tokensmith.keys.rotation import KeyLifecycleError, KeyRotation
from tokensmith.settings import ConfigError, Settings
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.keys import SqlKeyStore

T = TypeVar("T")
_HEADINGS = ("KID", "ALG", "STATUS", "CREATED", "ACTIVATES", "RETIRED", "REMOVE AFTER")


@click.group()
def keys() -> None:
    """Signing keys: a new key is published before it signs, an old one after it stops."""


@keys.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_keys(config_file: Path | None, as_json: bool) -> None:
    """One line per key: kid, algorithm, status (next, active, retired, expired), times."""
    states = _run(load_settings(config_file), lambda rotation: rotation.states())
    if as_json:
        click.echo(json.dumps([_as_json(state) for state in states], indent=2))
        return
    rows = [_HEADINGS, *(_as_columns(state) for state in states)]
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@keys.command("rotate")
@config_option
@click.option("--now", "immediately", is_flag=True, help="Sign with the new key at once.")
def rotate(config_file: Path | None, immediately: bool) -> None:
    """Add a key, published at once, signing after key_announce_seconds (--now: at once).

    Print its kid.
    """
    settings = load_settings(config_file)
    key = _run(settings, lambda rotation: rotation.rotate(immediately=immediately))
    assert key.activates_at is not None
    click.echo(key.kid)
    click.echo(f"published now; signs from {_time(key.activates_at)}", err=True)


@keys.command("retire")
@config_option
@click.argument("kid")
def retire(config_file: Path | None, kid: str) -> None:
    """Stop KID signing; it stays published until the tokens it signed have expired.

    A kid may begin with "-": write ``tokensmith keys retire -- KID`` then.
    """
    state = _run(load_settings(config_file), lambda rotation: rotation.retire(kid))
    click.echo(f"{kid} is {state.status}; published until {_time(state.remove_after)}", err=True)


def _run(settings: Settings, action: Callable[[KeyRotation], Awaitable[T]]) -> T:
    """Run ``action`` on the configured database; refusals and database errors exit 1."""

    async def run() -> T:
        if settings.database.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database)
        try:
            await create_schema(engine)
            policy = KeyPolicy.from_settings(settings)
            encryptor = load_key_encryptor(settings)
            return await action(KeyRotation(SqlKeyStore(engine), encryptor, policy))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (KeyLifecycleError, ConfigError) as exc:
        fail(str(exc), 1)
    except (SQLAlchemyError, OSError) as exc:
        # SQLAlchemy's own message lists statement parameters: name the problem only.
        fail(f"database: {type(exc).__name__}", 1)


def _as_columns(state: KeyState) -> tuple[str, ...]:
    return (
        state.kid,
        state.algorithm,
        state.status,
        _time(state.created_at),
        _time(state.activates_at),
        _time(state.retired_at),
        _time(state.remove_after),
    )


def _as_json(state: KeyState) -> dict[str, object]:
    return {
        "kid": state.kid,
        "alg": state.algorithm,
        "status": state.status,
        "created_at": state.created_at,
        "activates_at": state.activates_at,
        "retired_at": state.retired_at,
        "remove_after": state.remove_after,
    }


def _time(moment: int | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
