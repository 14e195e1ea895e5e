"""tokensmith serve with a signing process: tokens signed beside the worker still verify."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningServer
from tests.e2e.test_workers import children_of, tokens_verify
from tokensmith.cli import available_cpus, signing_process_for

pytestmark = pytest.mark.e2e


def signing_processes(server: RunningServer) -> list[int]:
    return [
        pid
        for pid in children_of(server.process.pid)
        if b"tokensmith/keys/signing_process.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def started_signing_process(server: RunningServer) -> int:
    """The server's signing process, once it waits for frames (it starts with the first token)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tokens_verify(server, 1)
        found = signing_processes(server)
        if found and reading_its_stdin(found[0]):
            time.sleep(0.1)  # for the worker to read the READY written just before
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no signing process ready:\n{server.stop()}")


def reading_its_stdin(pid: int) -> bool:
    """Blocked in read(0, ...): past its imports and its READY, waiting for frames."""
    return Path(f"/proc/{pid}/syscall").read_text().startswith("0 0x0 ")


def test_tokens_signed_in_the_signing_process_verify(server_factory, config_text):
    server = server_factory('signing_process = "on"\n' + config_text)
    pid = started_signing_process(server)
    tokens_verify(server, 200)
    assert signing_processes(server) == [pid]  # the same process all along
    output = server.stop()
    assert "tokens signed in:   a process beside each worker" in output
    assert not Path(f"/proc/{pid}").exists()  # it ended with the server


def test_requests_held_by_a_killed_signing_process_still_get_their_tokens(
    server_factory, config_text
):
    server = server_factory('signing_process = "on"\n' + config_text)
    pid = started_signing_process(server)
    os.kill(pid, signal.SIGSTOP)  # it takes the next turns and answers none of them
    with ThreadPoolExecutor(8) as pool:
        asking = [pool.submit(tokens_verify, server, 3) for _ in range(8)]
        time.sleep(0.5)
        assert not any(future.done() for future in asking)
        os.kill(pid, signal.SIGKILL)
        for future in asking:
            future.result(timeout=30)  # each request answered 200 with a token that verifies
    tokens_verify(server, 20)
    assert "signatures unanswered; signing them here" in server.stop()


def test_off_signs_in_the_worker(server_factory, config_text):
    server = server_factory('signing_process = "off"\n' + config_text)
    tokens_verify(server, 20)
    assert signing_processes(server) == []
    assert "tokens signed in:   the workers" in server.stop()


@pytest.mark.skipif(available_cpus() < 2, reason="auto is off on one CPU")
def test_auto_starts_one_beside_a_single_worker(server_factory, config_text):
    server = server_factory(config_text)
    started_signing_process(server)


def test_auto_leaves_a_cpu_per_worker():
    assert signing_process_for(workers=1, cpus=2) == "on"
    assert signing_process_for(workers=3, cpus=8) == "on"
    assert signing_process_for(workers=2, cpus=2) == "off"
    assert signing_process_for(workers=1, cpus=1) == "off"
    assert signing_process_for(workers=4, cpus=2) == "off"
