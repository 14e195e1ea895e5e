"""SqlClaimScriptStore: custom-claims scripts saved at run time, one per hook kind."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.stores.sql.tables import claim_scripts

HOOK_KINDS = ("user", "machine", "id_token")


@dataclass(slots=True, frozen=True)
class StoredScript:
    kind: str
    source: str
    updated_at: int


class SqlClaimScriptStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def get(self, kind: str) -> StoredScript | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(claim_scripts).where(claim_scripts.c.kind == kind))
            ).first()
        return None if row is None else StoredScript(row.kind, row.source, row.updated_at)

    async def list_scripts(self) -> list[StoredScript]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(claim_scripts).order_by(claim_scripts.c.kind))
            return [StoredScript(row.kind, row.source, row.updated_at) for row in rows]

    async def set(self, kind: str, source: str) -> None:
        if kind not in HOOK_KINDS:
            raise ValueError(f"kind must be one of {', '.join(HOOK_KINDS)}")
        # Nanosecond-ish versions so two saves in one second still count as a change.
        version = time.time_ns() // 1000
        async with self._engine.begin() as connection:
            await connection.execute(delete(claim_scripts).where(claim_scripts.c.kind == kind))
            await connection.execute(
                insert(claim_scripts).values(kind=kind, source=source, updated_at=version)
            )

    async def remove(self, kind: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(claim_scripts).where(claim_scripts.c.kind == kind)
            )
        return bool(result.rowcount)
