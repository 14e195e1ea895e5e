"""SqlGrantStore: codes, refresh tokens, sessions and the rest, keyed by handle hash.

``consume`` is a conditional UPDATE ... RETURNING, so a handle is used
exactly once even when the same value reaches several processes at once.
Saves, finds and consumes that arrive together share a round trip
(``batching.py``); every caller still gets the outcome of its own handle.
With the engine's SQLite process, a consume is an UPDATE of its own handle
there (``DriverUpdate``), in the turn's one transaction.

The statements are built once, here, with bound parameters: building a
statement per call (and SQLAlchemy working out its cache key from scratch)
was a large share of the time per request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.stores.protocols import DuplicateGrant
from tokensmith.stores.sql.batching import Batch, Batcher
from tokensmith.stores.sql.engine import (
    run_in_transaction,
    sqlite_process_of,
    thread_settle_turns,
)
from tokensmith.stores.sql.group_commit import GroupCommit
from tokensmith.stores.sql.lookups import DriverUpdate, KeyedLookup
from tokensmith.stores.sql.process_sqlite import NotSent
from tokensmith.stores.sql.tables import grants

# Parameter names differ from the column names: SQLAlchemy keeps those for SET clauses.
_KEY = bindparam("p_key", type_=grants.c.key.type)
_KIND = bindparam("p_kind", type_=grants.c.kind.type)
_NOW = bindparam("p_now", type_=grants.c.consumed_at.type)
_THIS_GRANT = (grants.c.key == _KEY, grants.c.kind == _KIND)
_UNCONSUMED = (*_THIS_GRANT, grants.c.consumed_at.is_(None))

_INSERT = insert(grants)
_DELETE = delete(grants).where(grants.c.key == _KEY)
# One kind and one time per statement; a batch of consumes sends one per (kind, now).
_CONSUME_MANY = (
    update(grants)
    .where(
        grants.c.key.in_(bindparam("p_keys", expanding=True)),
        grants.c.kind == _KIND,
        grants.c.consumed_at.is_(None),
    )
    .values(consumed_at=_NOW)
    .returning(*grants.c)
)
_UPDATE_DATA = (
    update(grants).where(*_UNCONSUMED).values(data=bindparam("p_data", type_=grants.c.data.type))
)
_REVOKE_FAMILY = (
    update(grants)
    .where(
        grants.c.family_id == bindparam("p_family", type_=grants.c.family_id.type),
        grants.c.revoked_at.is_(None),
    )
    .values(revoked_at=_NOW)
)
_REVOKE = (
    update(grants)
    .where(grants.c.key == _KEY, grants.c.revoked_at.is_(None))
    .values(revoked_at=_NOW)
)
_PURGE = delete(grants).where(grants.c.expires_at < _NOW)


_Consume = tuple[str, GrantKind, int]
_Consumed = tuple[ConsumeOutcome, StoredGrant | None]


class SqlGrantStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._inserts = GroupCommit(engine, _INSERT)
        self._lookup = KeyedLookup(engine, grants, grants.c.key)
        self._consumes: Batcher[_Consume, _Consumed] = Batcher(
            self._consume_batch,
            name="tokensmith-group-consume",
            settle_turns=thread_settle_turns(engine),
        )
        self._consume_update = DriverUpdate.for_sqlite(engine, _CONSUME_MANY)

    async def save(self, grant: StoredGrant) -> None:
        """Insert ``grant``; concurrent saves share a transaction (``group_commit``)."""
        try:
            await self._inserts.insert(_row_from_grant(grant))
        except IntegrityError as exc:  # the primary key: the only constraint a save can break
            raise DuplicateGrant(grant.key) from exc

    async def replace(self, grant: StoredGrant) -> None:
        """Insert or overwrite the record with this key (consents, counters)."""
        async with self._engine.begin() as connection:
            await connection.execute(_DELETE, {"p_key": grant.key})
            await connection.execute(_INSERT, _row_from_grant(grant))

    async def find(self, key: str, kind: GrantKind) -> StoredGrant | None:
        row = await self._lookup.find(key)
        return None if row is None or row["kind"] != kind.value else _grant_from_row(row)

    async def consume(self, key: str, kind: GrantKind, now: int) -> _Consumed:
        """Mark the grant used if nobody has; say whether this call was the one."""
        process = None if self._consume_update is None else sqlite_process_of(self._engine)
        if process is not None:
            assert self._consume_update is not None
            parameters = {"p_keys": [key], "p_kind": kind.value, "p_now": now}
            try:
                rows = await process.update(
                    self._consume_update, self._consume_update.values(parameters)
                )
            except NotSent:  # the process ended before it was sent: the thread's
                pass
            else:
                return await self._consumed(key, kind, rows)
        return await self._consumes.submit((key, kind, now))

    async def _consumed(self, key: str, kind: GrantKind, rows: list[dict[str, Any]]) -> _Consumed:
        """The outcome of one handle's UPDATE in the SQLite process: the row it returned,
        else whether the handle was there (used before) or not, read after the commit.

        Read after, not in the UPDATE's transaction: a row found unconsumed was not there
        when the UPDATE ran (saved since), so for this call it was missing, as the
        thread's one transaction would have said; never "already consumed", which
        revokes a refresh token's family."""
        if rows:
            return ConsumeOutcome.CONSUMED, _grant_from_row(rows[0])
        row = await self._lookup.find(key)
        if row is None or row["kind"] != kind.value or row["consumed_at"] is None:
            return ConsumeOutcome.MISSING, None
        return ConsumeOutcome.ALREADY_CONSUMED, _grant_from_row(row)

    async def _consume_batch(self, batch: Batch[_Consume, _Consumed]) -> list[_Consumed]:
        """One transaction: an UPDATE per (kind, now), then a look at the handles it missed.

        The handles go in sorted, and PostgreSQL visits the rows of ``key IN (...)``
        in the order of the primary-key index, so two processes' batches over
        the same handles wait for each other instead of deadlocking. Should one
        deadlock anyway, PostgreSQL ends that transaction: nothing is consumed
        and its callers get the database error (503, and they may retry).
        """

        def consume_all(
            connection: Connection,
        ) -> tuple[dict[tuple[str, GrantKind], RowMapping], dict[Any, RowMapping]]:
            # On SQLite this runs on the writer thread, and takes what is waiting then.
            calls = batch.take()
            keys_by_statement: dict[tuple[GrantKind, int], set[str]] = {}
            for key, kind, now in calls:
                keys_by_statement.setdefault((kind, now), set()).add(key)
            consumed: dict[tuple[str, GrantKind], RowMapping] = {}
            for (kind, now), keys in keys_by_statement.items():
                result = connection.execute(
                    _CONSUME_MANY, {"p_keys": sorted(keys), "p_kind": kind.value, "p_now": now}
                )
                consumed.update(((row["key"], kind), row) for row in result.mappings())
            missed = [key for key, kind, _ in calls if (key, kind) not in consumed]
            return consumed, self._lookup.find_in(connection, missed) if missed else {}

        consumed, existing = await run_in_transaction(self._engine, consume_all)
        outcomes: list[_Consumed] = []
        claimed: set[tuple[str, GrantKind]] = set()
        for key, kind, _ in batch.items:
            row = consumed.get((key, kind))
            if row is not None and (key, kind) not in claimed:
                claimed.add((key, kind))  # the first caller with this handle is the one
                outcomes.append((ConsumeOutcome.CONSUMED, _grant_from_row(row)))
                continue
            if row is None and (row := existing.get(key)) is not None and row["kind"] != kind.value:
                row = None  # another kind of grant under this handle is not this one
            if row is None:
                outcomes.append((ConsumeOutcome.MISSING, None))
            else:
                outcomes.append((ConsumeOutcome.ALREADY_CONSUMED, _grant_from_row(row)))
        return outcomes

    async def update_data(self, key: str, kind: GrantKind, data: dict[str, Any]) -> bool:
        """Replace the data of a grant nobody has consumed yet; False if it was consumed.

        A targeted UPDATE, never delete-and-insert, so that a concurrent
        ``consume`` can never be undone by a stale writer.
        """
        async with self._engine.begin() as connection:
            result = await connection.execute(
                _UPDATE_DATA, {"p_key": key, "p_kind": kind.value, "p_data": data}
            )
        return bool(result.rowcount)

    async def revoke_family(self, family_id: str, now: int) -> int:
        """Revoke every grant of a family (a refresh-token chain, a code's tokens)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(_REVOKE_FAMILY, {"p_family": family_id, "p_now": now})
        return int(result.rowcount)

    async def revoke(self, key: str, now: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_REVOKE, {"p_key": key, "p_now": now})

    async def purge_expired(self, before: int) -> int:
        """Delete every grant whose expiry is before ``before``."""
        async with self._engine.begin() as connection:
            result = await connection.execute(_PURGE, {"p_now": before})
        return int(result.rowcount)

    async def remove(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_DELETE, {"p_key": key})


def _row_from_grant(grant: StoredGrant) -> dict[str, Any]:
    return {
        "key": grant.key,
        "kind": grant.kind.value,
        "client_id": grant.client_id,
        "subject_id": grant.subject_id,
        "family_id": grant.family_id,
        "session_id": grant.session_id,
        "data": grant.data,
        "created_at": grant.created_at,
        "expires_at": grant.expires_at,
        "consumed_at": grant.consumed_at,
        "revoked_at": grant.revoked_at,
    }


def _grant_from_row(row: Any) -> StoredGrant:
    return StoredGrant(
        key=row["key"],
        kind=GrantKind(row["kind"]),
        client_id=row["client_id"],
        subject_id=row["subject_id"],
        family_id=row["family_id"],
        session_id=row["session_id"],
        data=dict(row["data"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        consumed_at=row["consumed_at"],
        revoked_at=row["revoked_at"],
    )
