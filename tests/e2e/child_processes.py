"""A served worker's helper processes (signing, SQLite), found and held from outside."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from tests.e2e.conftest import RunningServer
from tests.e2e.test_workers import children_of

Ask = Callable[[RunningServer, int], None]
"""Ask ``server`` for that many tokens, asserting each is good."""


def processes_running(pids: list[int], script: str) -> list[int]:
    """Those of ``pids`` running ``script`` (a path ending, "tokensmith/keys/...")."""
    return [pid for pid in pids if script.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()]


def child_processes(server: RunningServer, script: str) -> list[int]:
    """The server's children running ``script``."""
    return processes_running(children_of(server.process.pid), script)


def started_child(server: RunningServer, script: str, ask: Ask) -> int:
    """The server's ``script`` process, once it exists (it starts with the first request
    that needs it, which ``ask`` makes)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ask(server, 1)
        found = child_processes(server, script)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {script} process:\n{server.stop()}")


def held_by_stopped_child(
    server: RunningServer, pool: ThreadPoolExecutor, script: str, ask: Ask
) -> tuple[int, list[Future[None]]]:
    """Stop the ``script`` process (SIGSTOP) with requests out that it holds: proof that it,
    not the worker, does their work. Tried again until the child takes work (it starts with
    the first request that needs it and takes work once it said it is ready)."""
    pid = started_child(server, script, ask)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        asking = [pool.submit(ask, server, 1) for _ in range(4)]
        time.sleep(0.3)  # far longer than a request takes, far less than a watchdog's wait
        if not any(future.done() for future in asking):
            return pid, asking
        os.kill(pid, signal.SIGCONT)  # not ready yet: let it go on starting
        for future in asking:
            future.result(timeout=30)
        time.sleep(0.2)
    raise AssertionError(f"the {script} process never held a request:\n{server.stop()}")


def held_then_continued(server: RunningServer, script: str, ask: Ask) -> int:
    """Requests held by the stopped ``script`` process are answered, and good, once it goes
    on; its pid."""
    with ThreadPoolExecutor(4) as pool:
        pid, asking = held_by_stopped_child(server, pool, script, ask)
        os.kill(pid, signal.SIGCONT)
        for future in asking:
            future.result(timeout=30)
    return pid


def one_child_all_along(server: RunningServer, script: str, ask: Ask, count: int) -> str:
    """Requests held by the stopped ``script`` process go on, then ``count`` more go through
    that same process, which ends with the server; the server's output."""
    pid = held_then_continued(server, script, ask)
    ask(server, count)
    assert child_processes(server, script) == [pid]  # the same process all along
    output = server.stop()
    assert not Path(f"/proc/{pid}").exists()  # it ended with the server
    return output


def held_then_killed(server: RunningServer, script: str, ask: Ask) -> list[BaseException | None]:
    """What became of requests held by the stopped ``script`` process when it was killed:
    None for each that was answered and good, else why not."""
    with ThreadPoolExecutor(4) as pool:
        pid, asking = held_by_stopped_child(server, pool, script, ask)
        os.kill(pid, signal.SIGKILL)
        return [future.exception(timeout=30) for future in asking]
