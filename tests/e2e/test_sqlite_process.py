"""tokensmith serve with a SQLite process: opaque tokens stored beside the worker resolve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from cryptography.fernet import Fernet

from tests.e2e import test_scale_out as scale_out
from tests.e2e.child_processes import (
    child_processes,
    held_then_continued,
    held_then_killed,
    one_child_all_along,
    processes_running,
)
from tests.e2e.conftest import CONFIG, RunningServer, start_server
from tests.e2e.test_workers import children_of
from tests.helpers import basic_auth
from tokensmith.cli import available_cpus

pytestmark = pytest.mark.e2e

OPAQUE_CONFIG = CONFIG.replace('access_token_format = "jwt"', 'access_token_format = "opaque"')
CREDENTIALS = basic_auth("orders-service", "s3cret-from-a-vault")


@pytest.fixture
def sqlite_only(database_url: str | None) -> None:
    if database_url is not None:
        pytest.skip("the SQLite process writes SQLite files")


SCRIPT = "tokensmith/stores/sql/sqlite_process.py"


def sqlite_processes(server: RunningServer) -> list[int]:
    return child_processes(server, SCRIPT)


def opaque_tokens_resolve(server: RunningServer, count: int) -> None:
    """``count`` opaque client_credentials tokens, each active at introspection."""
    with httpx2.Client(base_url=server.base_url, headers=CREDENTIALS) as client:
        for _ in range(count):
            response = client.post("/token", data={"grant_type": "client_credentials"})
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            assert token.count(".") == 0  # opaque, not a JWT
            introspected = client.post("/introspect", data={"token": token}).json()
            assert introspected["active"] is True, introspected
            assert introspected["client_id"] == "orders-service"


def test_tokens_stored_and_introspected_through_the_child_resolve(server_factory, sqlite_only):
    server = server_factory('sqlite_process = "on"\n' + OPAQUE_CONFIG)
    output = one_child_all_along(server, SCRIPT, opaque_tokens_resolve, 100)
    assert "SQLite work in:     a process beside each worker" in output


def test_requests_held_by_a_killed_sqlite_process_are_told_to_retry(server_factory, sqlite_only):
    server = server_factory('sqlite_process = "on"\n' + OPAQUE_CONFIG)
    outcomes = held_then_killed(server, SCRIPT, opaque_tokens_resolve)
    # What the child held is a 503 (stored or not, nobody knows); a request that had not
    # reached it yet went to the worker's thread and got a good token.
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert refused
    assert all("temporarily_unavailable" in str(outcome) for outcome in refused)
    opaque_tokens_resolve(server, 20)  # the worker's thread stores them now
    assert "may or may not be committed" in server.stop()


def test_off_stores_on_the_worker_s_thread(server_factory, sqlite_only):
    server = server_factory('sqlite_process = "off"\n' + OPAQUE_CONFIG)
    opaque_tokens_resolve(server, 20)
    assert sqlite_processes(server) == []
    assert "SQLite work in" not in server.stop()


@pytest.mark.skipif(available_cpus() < 2, reason="auto is off on one CPU")
def test_auto_stores_beside_a_single_worker(server_factory, sqlite_only):
    server = server_factory(OPAQUE_CONFIG)
    assert held_then_continued(server, SCRIPT, opaque_tokens_resolve) in sqlite_processes(server)


@pytest.fixture
def two_workers_with_sqlite_processes(tmp_path: Path, sqlite_only) -> Iterator[RunningServer]:
    """``serve --workers 2`` on one SQLite file, each worker with its SQLite process."""
    config = 'sqlite_process = "on"\n' + scale_out.CONFIG.format(
        issuer=scale_out.ISSUER,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        redirect=scale_out.REDIRECT,
        device=scale_out.DEVICE,
        kek=Fernet.generate_key().decode(),
    )
    (tmp_path / "tokensmith.toml").write_text(config)
    server = start_server(
        tmp_path, ["--config", str(tmp_path / "tokensmith.toml"), "--workers", "2"]
    )
    yield server
    server.stop()


def test_two_workers_consume_one_code_and_one_refresh_token_once(
    two_workers_with_sqlite_processes,
):
    server = two_workers_with_sqlite_processes
    code, verifier = scale_out.code_from(server)
    redeemed = scale_out.race([lambda: scale_out.redeem(server, code, verifier)] * 50)
    assert scale_out.outcomes(redeemed) == (1, {"invalid_grant"})
    # A code used again revokes what it gave (RFC 9700 4.2.4): refresh from a new one.
    code, verifier = scale_out.code_from(server)
    token = scale_out.redeem(server, code, verifier).json()["refresh_token"]

    refreshed = scale_out.race([lambda: scale_out.refresh(server, token)] * 50)

    assert scale_out.outcomes(refreshed) == (1, {"invalid_grant"})
    # The reuse revoked the family: the token the one winner got is refused too.
    rotated = next(r for r in refreshed if r.status_code == 200).json()["refresh_token"]
    assert scale_out.refresh(server, rotated).json()["error"] == "invalid_grant"
    # Fifty connections at once reach both workers: each consumed through its child.
    workers = children_of(server.process.pid)
    beside_workers = [pid for worker in workers for pid in children_of(worker)]
    assert len(processes_running(beside_workers, SCRIPT)) == 2
