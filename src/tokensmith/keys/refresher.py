"""KeyRefresher: the background task that keeps a process's keys in step with the database.

Every ``interval`` seconds it runs ``KeyManager.refresh``: add the next key if
rotation is due, record retirements, reload. Every process runs one; the
database lets only one of them add a given key, and all of them pick up the
result within one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tokensmith.keys.manager import KeyManager

logger = logging.getLogger(__name__)


class KeyRefresher:
    def __init__(self, keys: KeyManager, interval: float):
        self._keys = keys
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tokensmith-key-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._keys.refresh()
            except Exception:
                # The keys loaded before stay in use; a database outage must not
                # end refreshing for the life of the process.
                logger.exception("refreshing the signing keys failed; trying again later")
