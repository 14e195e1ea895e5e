"""WalCheckpointer: SQLite's write-ahead log copied into the database off the write path.

By default SQLite checkpoints inside the commit that takes the WAL past 1,000
pages: that commit copies the pages into the database file and fsyncs it
(5-15 ms measured under token load) while it still holds the write lock, so
every batch of inserts behind it waits, and with them the requests that wait
for their token to be stored. tokensmith runs a PASSIVE checkpoint, which
never blocks writers or readers, on a thread of its own: at most every
``interval`` seconds, and only when this process has written since the last
one. SQLite starts the WAL over at the first write after a checkpoint that
copied every page; between bursts of writes that happens here. Under writes
without a pause the thread never quite catches up, so connections keep a
commit-time checkpoint too, only past ``WAL_AUTOCHECKPOINT_PAGES`` (engine.py,
ten times SQLite's default): that one copies only what the thread has not, and
the WAL starts over after it.

Each process checkpoints its own writes (``serve --workers`` has several);
when two try at once, SQLite lets one do it and the other's is a no-op. A
process that exits leaves nothing behind: closing the last connection to a
database checkpoints what is left.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

__all__ = ["CHECKPOINT_INTERVAL_SECONDS", "WalCheckpointer"]

CHECKPOINT_INTERVAL_SECONDS = 0.25
"""At ~5,000 stored tokens a second the WAL grows by ~1,500 pages in that time."""

logger = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints ``engine``'s database on a daemon thread after ``wrote()`` was called."""

    def __init__(self, engine: Engine, interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._dirty = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.checkpoints = 0
        """Checkpoints run so far (for tests and curiosity)."""

    def wrote(self) -> None:
        """Note a committed write: the next round will checkpoint it."""
        self._dirty = True
        if not self._serving:
            self._start()

    @property
    def running(self) -> bool:
        """Whether a thread is alive (one starts with the first write)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def _serving(self) -> bool:
        """A thread is alive and not told to stop: writes need no new one."""
        return self.running and not self._stopped.is_set()

    def stop(self) -> None:
        """End the thread within one interval (the engine is disposed).

        A write after that (an engine used again) starts a new one: without it
        only the commit-time checkpoint past ``WAL_AUTOCHECKPOINT_PAGES`` would
        keep the WAL short.
        """
        self._stopped.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._serving:
                return
            self._stopped = threading.Event()
            self._thread = threading.Thread(
                target=self._run,
                args=(self._stopped,),
                name="tokensmith-sqlite-checkpoint",
                daemon=True,
            )
            self._thread.start()

    def _run(self, stopped: threading.Event) -> None:
        while not stopped.wait(self._interval):
            if not self._dirty:
                continue
            self._dirty = False  # a write during the checkpoint sets it again
            try:
                with self._engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                self.checkpoints += 1
            except Exception as exc:  # the file went away, the disk is full...
                logger.warning("SQLite checkpoint failed, will try again: %s", exc)
                self._dirty = True
