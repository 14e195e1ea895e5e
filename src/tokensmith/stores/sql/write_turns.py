"""ProcessWriteTurns: the processes of ``serve --workers`` take turns writing SQLite.

SQLite has one write lock per database file. A process that finds it taken
waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15 ms and more
between tries. Under load the holder's next batch is ready the moment its
last one commits, so it takes the lock again before the sleeper wakes: the
sleeper's batches wait many rounds (p99 of 180 ms measured with two workers
storing opaque tokens) while its process has nothing else to do.

Before a write transaction on its writer thread, each process takes an
exclusive ``flock`` on a lock file beside the database, trying again after
pauses of 0.1 ms growing to 1 ms: it is waiting for a lock that is held for
about a millisecond, and it no longer sleeps through the moment it is let go.
Between two of its transactions a holder needs a few hundred microseconds to
hand results back and gather the next batch, so the waiter gets its turn.
SQLite's own locking still guards the data; this only decides who asks
first. Should the turn not come within the busy timeout (a sibling stopped
mid-transaction), the write goes ahead without it, and SQLite's busy timeout
decides as before. Where ``fcntl`` does not exist (Windows), there are no
turns.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ProcessWriteTurns"]

_FIRST_PAUSE_SECONDS = 0.0001
_LONGEST_PAUSE_SECONDS = 0.001


class ProcessWriteTurns:
    """A context manager: held, no other process's writer thread holds it."""

    def __init__(self, database: Path, timeout_seconds: float) -> None:
        self.path = database.with_name(database.name + "-write-turns")
        self._timeout = timeout_seconds
        self._fd: int | None = None
        self._held = False
        self._guard = threading.Lock()  # one holder per process, too

    def __enter__(self) -> ProcessWriteTurns:
        self._guard.acquire()
        try:
            self._held = self._take()
        except OSError:  # no lock file (read-only folder...): no turns
            self._held = False
        except BaseException:
            self._guard.release()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        try:
            if self._held and self._fd is not None and fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._held = False
            self._guard.release()

    def close(self) -> None:
        with self._guard:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _take(self) -> bool:
        if fcntl is None:
            return False
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        # A blocking flock would have no timeout; short pauses keep the wait bounded.
        deadline = time.monotonic() + self._timeout
        pause = _FIRST_PAUSE_SECONDS
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)
