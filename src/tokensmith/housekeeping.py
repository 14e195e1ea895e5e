"""Housekeeping: expired grants are deleted so the database does not grow without bound.

Expired records are kept for a grace period first: a replayed authorization
code must still be recognised (and its tokens revoked) shortly after expiry.
Every process runs the purge on a timer; the DELETE is idempotent, so several
processes doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from tokensmith.settings import Settings
from tokensmith.stores.sql.grants import SqlGrantStore

logger = logging.getLogger(__name__)


async def purge_expired(grants: SqlGrantStore, settings: Settings) -> int:
    """Delete grants that expired more than ``purge_grace_seconds`` ago; the count deleted."""
    return await grants.purge_expired(int(time.time()) - settings.purge_grace_seconds)


class PurgeTimer:
    def __init__(self, grants: SqlGrantStore, settings: Settings):
        self._grants = grants
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._settings.purge_interval_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="tokensmith-purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.purge_interval_seconds)
            try:
                deleted = await purge_expired(self._grants, self._settings)
            except Exception:  # keep serving; the next round tries again
                logger.exception("purging expired grants failed")
                continue
            if deleted:
                logger.info("purged %d expired grants", deleted)
