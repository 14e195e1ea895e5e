"""Pieces every ``tokensmith`` command group shares: the --config option, loading, failing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from tokensmith.settings import ConfigError, Settings

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML config file (default: ./tokensmith.toml if present).",
)


def load_settings(config_file: Path | None) -> Settings:
    """Settings, or exit 2 with the message that names the bad key."""
    try:
        return Settings.load(config_file)
    except ConfigError as exc:
        fail(str(exc), 2)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"tokensmith: {message}", err=True)
    sys.exit(code)
