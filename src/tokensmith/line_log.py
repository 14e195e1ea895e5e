"""Log lines written a batch at a time, and given to the handler without a LogRecord.

Audit events are one line per token, so on a busy server writing each line
with its own ``write`` and ``flush`` system call would cost more than the
event itself (measured: a pipe write per line added 25-40 us to a ~165 us
token request). ``BatchedLineHandler`` collects lines and writes them in
batches, at most ``interval`` seconds apart, so an idle server still shows an
event within a fraction of a second and a busy one pays one write per batch.

Building the ``LogRecord`` for a line (thread, process, timestamps, file name)
was the next cost: 10% of the interpreter's time for an opaque token under
load. A handler whose output for a record is the record's message, and
nothing else, can be given the finished line instead (``emit_line``);
``audit.audit_event`` does that when such a handler is the audit logger's only
listener (``takes_lines``), and builds the record otherwise.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

__all__ = ["BatchedLineHandler", "LineFormatter"]


class LineFormatter(logging.Formatter):
    """A record's message and nothing else: the format of a log that is already JSON lines."""

    def __init__(self) -> None:
        super().__init__("%(message)s")


class BatchedLineHandler(logging.Handler):
    """Writes formatted records as lines, a batch at a time.

    A batch is written when it reaches ``max_lines``, when a record arrives
    ``interval`` seconds after the last write, and by a daemon thread every
    ``interval`` seconds otherwise; ``close`` (run by ``logging.shutdown`` at
    exit) writes what is left. Only a killed process loses the last batch.
    """

    def __init__(
        self, stream: TextIO | None = None, interval: float = 0.2, max_lines: int = 512
    ) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stdout
        self.interval = interval
        self.max_lines = max_lines
        self._lines: list[str] = []
        self._written_at = time.monotonic()
        self._flusher: threading.Thread | None = None
        self._stop_flushing = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle holds self.lock around emit.
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._add(line)

    def takes_lines(self, level: int) -> bool:
        """Whether a record at ``level`` would reach the output as its message alone.

        True when nothing filters here and the formatter is a ``LineFormatter``:
        then ``emit_line(message)`` writes exactly what ``handle(record)`` would.
        """
        return not self.filters and level >= self.level and type(self.formatter) is LineFormatter

    def emit_line(self, line: str) -> None:
        """Add a finished line, as ``handle`` would for a record with that message."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._add(line)

    def _add(self, line: str) -> None:
        self._lines.append(line)
        if self._flusher is None:
            self._start_flusher()
        if (
            len(self._lines) >= self.max_lines
            or time.monotonic() - self._written_at >= self.interval
        ):
            self._write()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def close(self) -> None:
        self._stop_flushing.set()
        self.flush()
        super().close()

    def _write(self) -> None:
        self._written_at = time.monotonic()
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: nothing to log to
            pass

    def _start_flusher(self) -> None:
        self._flusher = threading.Thread(
            target=self._flush_periodically, name="tokensmith-audit-log", daemon=True
        )
        self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._stop_flushing.wait(self.interval):
            self.flush()
