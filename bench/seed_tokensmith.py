"""Pre-create grants in a tokensmith database for bench/run.sh.

Codes and refresh tokens are single-use, so a benchmark of their redemption
needs one per request, minted before the clock starts. They are written
straight into the server's own ``grants`` table (``stores/sql/tables.py``),
in the row shape the server itself writes (``interaction/flow.py`` for codes,
``tokens/refresh_token_service.py`` for refresh tokens), keyed by
``handle_key`` so only the hash is stored, as in production.

    python bench/seed_tokensmith.py --config tokensmith.toml codes N OUT
    python bench/seed_tokensmith.py --config tokensmith.toml refresh_tokens N OUT
    python bench/seed_tokensmith.py --config tokensmith.toml families N

``codes`` and ``refresh_tokens`` write the handles to OUT, one a line.
``families`` fills the table with N refresh-token families whose handles are
thrown away (the "stored data" of the scale scenario), with COPY on
PostgreSQL. The server must have started once (schema, configured user).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.models.grant import GrantKind, handle_key, new_handle
from tokensmith.settings import Settings
from tokensmith.stores.sql.engine import create_engine
from tokensmith.stores.sql.tables import grants
from tokensmith.stores.sql.users import SqlUserStore

USERNAME = "bench-user"
REDIRECT_URI = "http://127.0.0.1:9/callback"
CODE_VERIFIER = "bench-code-verifier-0123456789-0123456789-0123456789"
USER_SCOPES = ["openid", "offline_access", "api:read"]
BATCH = 20_000


def _code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _rows(
    kind: GrantKind, count: int, settings: Settings, subject_id: str, resource: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(handle, row) pairs, each a grant of its own family."""
    now = int(time.time())
    absolute = now + settings.refresh_token_absolute_lifetime
    challenge = _code_challenge(CODE_VERIFIER)
    client_id = settings.clients[0].client_id
    for _ in range(count):
        handle = new_handle()
        if kind is GrantKind.AUTHORIZATION_CODE:
            expires_at = now + settings.authorization_code_lifetime
            data: dict[str, Any] = {
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
                "scopes": USER_SCOPES,
                "resources": [resource],
                "nonce": None,
                "auth_time": now,
            }
        else:
            expires_at = min(now + settings.refresh_token_sliding_lifetime, absolute)
            data = {
                "scopes": USER_SCOPES,
                "resources": [resource],
                "auth_time": now,
                "absolute_expires_at": absolute,
            }
        yield (
            handle,
            {
                "key": handle_key(handle),
                "kind": kind.value,
                "client_id": client_id,
                "subject_id": subject_id,
                "family_id": uuid.uuid4().hex,
                "session_id": uuid.uuid4().hex,
                "data": data,
                "created_at": now,
                "expires_at": expires_at,
                "consumed_at": None,
                "revoked_at": None,
            },
        )


async def _subject_id(engine: AsyncEngine) -> str:
    user = await SqlUserStore(engine).find_user_by_username(USERNAME)
    if user is None:
        sys.exit(f"seed: no user {USERNAME!r} in the database: start the server once first")
    return user.subject_id


async def _insert(engine: AsyncEngine, batch: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(grants), batch)


async def _copy(engine: AsyncEngine, batch: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY: about ten times faster than INSERT for a million rows."""
    columns = [column.name for column in grants.columns]
    records = [
        tuple(orjson.dumps(row[c]).decode() if c == "data" else row[c] for c in columns)
        for row in batch
    ]
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            grants.name, records=records, columns=columns
        )


async def seed(config: Path, what: str, count: int, keep: bool) -> list[str]:
    """Write ``count`` grants; return their handles when ``keep``."""
    settings = Settings.load(config)
    engine = create_engine(settings.database)
    try:
        subject_id = await _subject_id(engine)
        resource = settings.api_resources[0].audience
        kind = GrantKind.AUTHORIZATION_CODE if what == "codes" else GrantKind.REFRESH_TOKEN
        write = _copy if engine.dialect.name == "postgresql" else _insert
        handles: list[str] = []
        batch: list[dict[str, Any]] = []
        started = time.perf_counter()
        for handle, row in _rows(kind, count, settings, subject_id, resource):
            if keep:
                handles.append(handle)
            batch.append(row)
            if len(batch) == BATCH:
                await write(engine, batch)
                batch.clear()
        if batch:
            await write(engine, batch)
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text(f"ANALYZE {grants.name}"))
        elapsed = time.perf_counter() - started
        print(f"seed: {count} {what} in {elapsed:.1f}s", file=sys.stderr)
        return handles
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("what", choices=["codes", "refresh_tokens", "families"])
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path, nargs="?")
    args = parser.parse_args()
    if (args.out is None) != (args.what == "families"):
        parser.error("OUT is required for codes and refresh_tokens, and not taken by families")
    config = args.config.resolve()
    out = args.out.resolve() if args.out is not None else None
    # run.sh starts the server in the config's folder: relative paths (the SQLite
    # data folder) must resolve the same way here.
    os.chdir(config.parent)
    handles = asyncio.run(seed(config, args.what, args.count, keep=out is not None))
    if out is not None:
        out.write_text("".join(f"{handle}\n" for handle in handles))


if __name__ == "__main__":
    main()
