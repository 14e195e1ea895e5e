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
    """The server's signing process, once it exists (it starts with the first token)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tokens_verify(server, 1)
        found = signing_processes(server)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no signing process:\n{server.stop()}")


def held_by_stopped_child(server: RunningServer, pool: ThreadPoolExecutor) -> tuple[int, list]:
    """Stop the signing process (SIGSTOP) with token requests out that it holds: proof that
    it, not the worker, signs them. Tried again until the child takes turns (it starts
    with the first token and takes turns once it said it is ready)."""
    pid = started_signing_process(server)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        asking = [pool.submit(tokens_verify, server, 1) for _ in range(4)]
        time.sleep(0.3)  # far longer than a token takes, far less than ANSWER_SECONDS (2 s)
        if not any(future.done() for future in asking):
            return pid, asking
        os.kill(pid, signal.SIGCONT)  # not ready yet: let it go on starting
        for future in asking:
            future.result(timeout=30)
        time.sleep(0.2)
    raise AssertionError(f"the signing process never held a request:\n{server.stop()}")


def test_tokens_signed_in_the_signing_process_verify(server_factory, config_text):
    server = server_factory('signing_process = "on"\n' + config_text)
    with ThreadPoolExecutor(4) as pool:
        pid, asking = held_by_stopped_child(server, pool)
        os.kill(pid, signal.SIGCONT)
        for future in asking:
            future.result(timeout=30)  # answered once the child goes on, and they verify
    tokens_verify(server, 200)
    assert signing_processes(server) == [pid]  # the same process all along
    output = server.stop()
    assert "tokens signed in:   a process beside each worker" in output
    assert not Path(f"/proc/{pid}").exists()  # it ended with the server


def test_requests_held_by_a_killed_signing_process_still_get_their_tokens(
    server_factory, config_text
):
    server = server_factory('signing_process = "on"\n' + config_text)
    with ThreadPoolExecutor(4) as pool:
        pid, asking = held_by_stopped_child(server, pool)
        os.kill(pid, signal.SIGKILL)
        for future in asking:
            future.result(timeout=30)  # each request answered 200 with a token that verifies
    tokens_verify(server, 20)
    assert "signatures unanswered; signing them here" in server.stop()


def test_the_signing_process_ends_when_its_worker_is_killed(server_factory, config_text):
    server = server_factory('signing_process = "on"\n' + config_text)
    pid = started_signing_process(server)
    server.process.kill()  # no shutdown: the child sees its stdin end
    server.stop()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists()


def test_off_signs_in_the_worker(server_factory, config_text):
    server = server_factory('signing_process = "off"\n' + config_text)
    tokens_verify(server, 20)
    assert signing_processes(server) == []
    assert "tokens signed in:   the workers" in server.stop()


@pytest.mark.skipif(available_cpus() < 2, reason="auto is off on one CPU")
def test_auto_signs_beside_a_single_worker(server_factory, config_text):
    server = server_factory(config_text)
    with ThreadPoolExecutor(4) as pool:
        pid, asking = held_by_stopped_child(server, pool)
        os.kill(pid, signal.SIGCONT)
        for future in asking:
            future.result(timeout=30)


def test_auto_leaves_a_cpu_per_worker():
    assert signing_process_for(workers=1, cpus=2) == "on"
    assert signing_process_for(workers=3, cpus=8) == "on"
    assert signing_process_for(workers=2, cpus=2) == "off"
    assert signing_process_for(workers=1, cpus=1) == "off"
    assert signing_process_for(workers=4, cpus=2) == "off"


def test_a_cgroup_cpu_quota_narrows_the_cpus(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # docker run --cpus 1.5
    assert available_cpus(cpu_max) == min(2, available_cpus(tmp_path / "absent"))
    cpu_max.write_text("50000 100000\n")
    assert available_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert available_cpus(cpu_max) == available_cpus(tmp_path / "absent")
