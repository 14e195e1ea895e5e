"""``tokensmith claims``: stored scripts, dry runs and the claims preview."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tokensmith._cli_common import config_option, fail, load_settings
from tokensmith.composition import compose, start, stop
from tokensmith.errors import OAuthError
from tokensmith.settings import ConfigError, Settings
from tokensmith.stores.sql.claim_scripts import HOOK_KINDS
from tokensmith.tokens.hook_samples import SAMPLE_CONTEXT, SAMPLE_TOKEN
from tokensmith.tokens.preview import PreviewError, preview_access_token

T = TypeVar("T")
_kind = click.argument("kind", type=click.Choice(HOOK_KINDS))


@click.group()
def claims() -> None:
    """Custom token claims: scripts, dry runs, and where each claim comes from."""


@claims.group()
def script() -> None:
    """Stored getCustomJwtClaims scripts (Logto's signature), one per kind."""


@script.command("set")
@config_option
@_kind
@click.argument("file", type=click.File("r"))
def set_script(config_file: Path | None, kind: str, file: Any) -> None:
    """Save FILE as the KIND script; running servers pick it up within a second."""
    source = file.read()

    async def save(components: dict[str, Any]) -> None:
        components["custom_claims"].script_hook(source)  # refuse what does not compile
        await components["claim_scripts"].set(kind, source)

    _run(load_settings(config_file), save)
    click.echo(f"saved the {kind} script", err=True)


@script.command("show")
@config_option
@_kind
def show_script(config_file: Path | None, kind: str) -> None:
    stored = _run(load_settings(config_file), lambda c: c["claim_scripts"].get(kind))
    if stored is None:
        fail(f"no {kind} script is stored", 1)
    click.echo(stored.source, nl=False)


@script.command("remove")
@config_option
@_kind
def remove_script(config_file: Path | None, kind: str) -> None:
    if not _run(load_settings(config_file), lambda c: c["claim_scripts"].remove(kind)):
        fail(f"no {kind} script is stored", 1)
    click.echo(f"removed the {kind} script", err=True)


@claims.command("test")
@config_option
@click.option("--script", "script_file", type=click.File("r"), help="A script to dry-run.")
@click.option("--kind", type=click.Choice(HOOK_KINDS), help="Dry-run the hook set for KIND.")
@click.option("--context", "context_file", type=click.File("r"), help="JSON context to use.")
@click.option("--token", "token_file", type=click.File("r"), help="JSON token payload to use.")
def test_hook(
    config_file: Path | None,
    script_file: Any,
    kind: str | None,
    context_file: Any,
    token_file: Any,
) -> None:
    """Run a script or the configured hook against a sample; print claims and drops."""
    if (script_file is None) == (kind is None):
        raise click.UsageError("give exactly one of --script, --kind")
    context = json.load(context_file) if context_file else SAMPLE_CONTEXT
    token = json.load(token_file) if token_file else SAMPLE_TOKEN
    source = script_file.read() if script_file else None

    async def dry_run(components: dict[str, Any]) -> dict[str, Any]:
        service = components["custom_claims"]
        found = ("script", service.script_hook(source)) if source else await service.hook_for(kind)
        if found is None:
            raise ConfigError(f"no custom claims hook is set for {kind}")
        outcome = await service.run_hook(found[0], found[1], token, context)
        return {"source": outcome.source, "claims": outcome.claims, "dropped": outcome.dropped}

    click.echo(json.dumps(_run(load_settings(config_file), dry_run), indent=2))


@claims.command("preview")
@config_option
@click.option("--client", "client_id", required=True)
@click.option("--user", "username", default=None)
@click.option("--scope", default=None, help="Space-separated; default: all the client may have.")
@click.option("--resource", "resources", multiple=True)
@click.option("--json", "as_json", is_flag=True)
def preview(
    config_file: Path | None,
    client_id: str,
    username: str | None,
    scope: str | None,
    resources: tuple[str, ...],
    as_json: bool,
) -> None:
    """Print the access token payload and, for every claim, the stage that set it."""
    result = _run(
        load_settings(config_file),
        lambda c: preview_access_token(c, client_id, username, scope, resources),
    )
    if as_json:
        report = {
            "format": result.token_format,
            "payload": result.payload,
            "sources": result.sources,
            "dropped": result.dropped,
        }
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"access token format: {result.token_format}")
    width = max(len(name) for name in result.payload)
    for name, value in result.payload.items():
        shown = json.dumps(value)
        click.echo(f"{name.ljust(width)}  {result.sources[name]:<28}  {shown}")
    for name, why in result.dropped.items():
        click.echo(f"{name.ljust(width)}  dropped: {why}")


def _run(settings: Settings, action: Callable[[dict[str, Any]], Awaitable[T]]) -> T:
    async def run() -> T:
        components = compose(settings)
        try:
            await start(components)
            return await action(components)
        finally:
            await stop(components)

    try:
        return asyncio.run(run())
    except (ConfigError, PreviewError, ValueError) as exc:
        fail(str(exc), 1)
    except OAuthError as exc:
        fail(f"{exc.error}: {exc.description or ''}", 1)
