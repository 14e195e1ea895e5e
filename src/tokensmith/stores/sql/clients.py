"""SqlClientStore: clients registered at run time (the demo client, the CLI, the admin API).

Every write bumps the ``clients`` change version in the same transaction, so
that ``CachedClientStore`` in other processes notices it.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.models.client import Client
from tokensmith.stores.sql.client_rows import client_from_row, row_from_client
from tokensmith.stores.sql.tables import clients
from tokensmith.stores.sql.versions import bump_version, read_version

VERSION_KIND = "clients"


class SqlClientStore:
    def __init__(self, engine: AsyncEngine, encryptor: KeyEncryptor | None = None):
        """``encryptor`` (the key-encryption key) is needed to store or read HMAC keys."""
        self._engine = engine
        self._encryptor = encryptor

    async def find_client_by_id(self, client_id: str) -> Client | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(clients).where(clients.c.client_id == client_id)
            )
            row = result.mappings().first()
        return None if row is None else client_from_row(row, self._encryptor)

    async def list_clients(self) -> list[Client]:
        async with self._engine.connect() as connection:
            result = await connection.execute(select(clients).order_by(clients.c.client_id))
            return [client_from_row(row, self._encryptor) for row in result.mappings()]

    async def add_client(self, client: Client) -> None:
        """Insert ``client``; IntegrityError if its id is taken."""
        row = row_from_client(client, self._encryptor)
        async with self._engine.begin() as connection:
            await connection.execute(insert(clients).values(**row))
            await bump_version(connection, VERSION_KIND)

    async def replace_client(self, client: Client) -> bool:
        """Overwrite the stored client with ``client``'s id; False if there is none."""
        row = row_from_client(client, self._encryptor)
        del row["created_at"]
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(clients).where(clients.c.client_id == client.client_id).values(**row)
            )
            await bump_version(connection, VERSION_KIND)
        return bool(result.rowcount)

    async def remove_client(self, client_id: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(clients).where(clients.c.client_id == client_id)
            )
            await bump_version(connection, VERSION_KIND)
        return bool(result.rowcount)

    async def count(self) -> int:
        async with self._engine.connect() as connection:
            return int(
                (await connection.execute(select(func.count()).select_from(clients))).scalar_one()
            )

    async def version(self) -> int:
        """The change counter of stored clients (see ``stores.sql.versions``)."""
        return await read_version(self._engine, VERSION_KIND)
