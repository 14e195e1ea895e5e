"""tokensmith serve with a signing process: tokens signed beside the worker still verify."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.child_processes import (
    child_processes,
    held_then_continued,
    held_then_killed,
    one_child_all_along,
    started_child,
)
from tests.e2e.conftest import RunningServer
from tests.e2e.test_workers import tokens_verify
from tokensmith.cli import available_cpus, helper_process_for

pytestmark = pytest.mark.e2e


SCRIPT = "tokensmith/keys/signing_process.py"


def signing_processes(server: RunningServer) -> list[int]:
    return child_processes(server, SCRIPT)


def started_signing_process(server: RunningServer) -> int:
    return started_child(server, SCRIPT, tokens_verify)


def test_tokens_signed_in_the_signing_process_verify(server_factory, config_text):
    server = server_factory('signing_process = "on"\n' + config_text)
    output = one_child_all_along(server, SCRIPT, tokens_verify, 200)
    assert "tokens signed in:   a process beside each worker" in output


def test_requests_held_by_a_killed_signing_process_still_get_their_tokens(
    server_factory, config_text
):
    server = server_factory('signing_process = "on"\n' + config_text)
    # Each request answered 200 with a token that verifies.
    assert held_then_killed(server, SCRIPT, tokens_verify) == [None] * 4
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
    assert held_then_continued(server, SCRIPT, tokens_verify) in signing_processes(server)


def test_auto_leaves_a_cpu_per_worker():
    assert helper_process_for(workers=1, cpus=2) == "on"
    assert helper_process_for(workers=3, cpus=8) == "on"
    assert helper_process_for(workers=2, cpus=2) == "off"
    assert helper_process_for(workers=1, cpus=1) == "off"
    assert helper_process_for(workers=4, cpus=2) == "off"


def test_a_cgroup_cpu_quota_narrows_the_cpus(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # docker run --cpus 1.5
    assert available_cpus(cpu_max) == min(2, available_cpus(tmp_path / "absent"))
    cpu_max.write_text("50000 100000\n")
    assert available_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert available_cpus(cpu_max) == available_cpus(tmp_path / "absent")
