"""Custom claims on a real server: failing hooks fail closed while others are served.

Acceptance item 3 of issue 5, end to end: a hook that raises, a webhook that
hangs or answers garbage, and a script that loops or allocates without bound
each refuse the token request (access_denied), and the server keeps answering
other clients meanwhile and afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import pytest

from tests.e2e.conftest import HERE
from tests.helpers import answer_json, basic_auth

pytestmark = pytest.mark.e2e

CONFIG = """
password_grant_enabled = true

[[clients]]
client_id = "legacy"
client_secret = "legacy-secret"
grant_types = ["password"]
scopes = ["api:read"]

[[clients]]
client_id = "machine"
client_secret = "machine-secret"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]
access_token_format = "opaque"

[[users]]
username = "alice"
password = "correct horse battery staple"
claims = { roles = ["admin"], plan = "pro" }

[custom_claims]
script_time_limit_seconds = 2.0
"""

ROLES_SCRIPT = """
const getCustomJwtClaims = async ({ context }) => ({
  roles: context.user.roles.map((role) => role.name),
  plan: context.user.customData.plan,
});
"""
LOOPING_SCRIPT = "const getCustomJwtClaims = async () => { while (true) {} };"
ALLOCATING_SCRIPT = """
const getCustomJwtClaims = async () => {
  const hoard = [];
  while (true) { hoard.push('x'.repeat(1e5) + Math.random()); }
};
"""
WEBHOOK_TIMEOUT = 2.0
SLACK = 8.0
"""Generous: a refusal well before the receiver's hang ends still shows the timeout cut it."""
HANG_SECONDS = 30.0


def set_script(server, source: str, database_url: str | None) -> None:
    path = server.workdir / "claims.js"
    path.write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env["PYTHONPATH"] = str(HERE)  # the CLI loads the config, and so its hooks, as the server does
    if database_url is not None:
        env["TOKENSMITH_DATABASE_URL"] = database_url  # the same database as the server
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tokensmith",
            "claims",
            "script",
            "set",
            "--config",
            str(server.workdir / "tokensmith.toml"),
            "user",
            str(path),
        ],
        cwd=server.workdir,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    time.sleep(1.3)  # running servers re-read stored scripts within a second


def user_token(server) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "correct horse battery staple",
        },
        headers=basic_auth("legacy", "legacy-secret"),
        timeout=30,
    )


def test_stored_script_claims_reach_an_opaque_token_via_introspection(server_factory, database_url):
    server = server_factory(CONFIG)
    set_script(server, ROLES_SCRIPT, database_url)
    response = user_token(server)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    introspected = httpx2.post(
        f"{server.base_url}/introspect",
        data={"token": token},
        headers=basic_auth("legacy", "legacy-secret"),
    ).json()
    assert introspected["active"] is True
    assert introspected["roles"] == ["admin"]
    assert introspected["plan"] == "pro"


def test_a_looping_script_fails_closed_while_other_requests_are_served(
    server_factory, database_url
):
    server = server_factory(CONFIG)
    set_script(server, LOOPING_SCRIPT, database_url)
    finished: dict[str, float] = {}
    outcome: dict[str, httpx2.Response] = {}

    def looping_request() -> None:
        outcome["user"] = user_token(server)
        finished["user"] = time.monotonic()

    thread = threading.Thread(target=looping_request)
    thread.start()
    time.sleep(0.3)  # let the script start spinning
    served = []
    while thread.is_alive() and len(served) < 5:
        response = httpx2.post(
            f"{server.base_url}/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth("machine", "machine-secret"),
        )
        served.append((response.status_code, time.monotonic()))
    thread.join(timeout=30)
    assert outcome["user"].status_code == 400
    assert outcome["user"].json()["error"] == "access_denied"
    assert len(served) == 5
    assert all(status == 200 for status, _ in served)
    # every machine token was answered before the runaway script was stopped
    assert all(at < finished["user"] for _, at in served)


def served_machine_token(server) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("machine", "machine-secret"),
        timeout=30,
    )


def logged(server, text: str, within: float = 5.0) -> bool:
    """Whether the server has printed ``text`` (its output is read by another thread)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if text in "".join(server.output):
            return True
        time.sleep(0.05)
    return False


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on a loopback port whose answer the test chooses.

    ``mode`` is "hang" (say nothing until released), or the raw body to answer
    with 200. Unsigned requests are not checked: the point is what the server
    does with the answer.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.mode = "hang"
        self.received = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/claims"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.set()
        if self.server.mode == "hang":
            self.server.release.wait(HANG_SECONDS)
            return  # close without answering
        answer_json(self, self.server.mode.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def webhook_config(url: str) -> str:
    return CONFIG.replace(
        "script_time_limit_seconds = 2.0",
        f"""timeout_seconds = {WEBHOOK_TIMEOUT}

[custom_claims.user]
webhook_url = "{url}"
webhook_secret = "whsec-e2e"
""",
    )


def test_a_hanging_webhook_fails_closed_within_its_timeout_while_others_are_served(
    server_factory, receiver
):
    server = server_factory(webhook_config(receiver.url))
    outcome: dict[str, httpx2.Response] = {}
    finished: dict[str, float] = {}

    def hanging_request() -> None:
        outcome["user"] = user_token(server)
        finished["user"] = time.monotonic()

    started = time.monotonic()
    thread = threading.Thread(target=hanging_request)
    thread.start()
    assert receiver.received.wait(10), "the webhook was never called"
    served = []
    while thread.is_alive() and len(served) < 3:
        response = served_machine_token(server)
        served.append((response.status_code, time.monotonic()))
    thread.join(timeout=30)
    refused = outcome["user"]
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "access_denied"
    # Cut off by the hook's timeout, not by the receiver, which is still hanging.
    assert finished["user"] - started < WEBHOOK_TIMEOUT + SLACK < HANG_SECONDS
    assert logged(server, "timed out after")
    # Other clients were answered while the webhook hung.
    assert len(served) == 3
    assert all(status == 200 for status, _ in served)
    assert all(at < finished["user"] for _, at in served)


def test_a_webhook_answering_garbage_fails_closed(server_factory, receiver):
    server = server_factory(webhook_config(receiver.url))
    receiver.mode = '{"claims": {"plan": "pro"}}'
    answered = user_token(server)  # the control: a well-formed answer is merged
    assert answered.status_code == 200, answered.text
    for garbage, reason in [
        ("<html>502 Bad Gateway</html>", "is not JSON"),
        ('["plan", "pro"]', "is not a JSON object"),
        ('{"plan": "pro"}', "is neither"),  # claims not wrapped in {"claims": ...}
    ]:
        receiver.mode = garbage
        refused = user_token(server)
        assert refused.status_code == 400, (garbage, refused.text)
        assert refused.json()["error"] == "access_denied"
        assert logged(server, reason), garbage


def test_a_raising_hook_and_an_allocating_script_fail_closed_and_the_server_goes_on(
    server_factory, database_url
):
    config = CONFIG.replace(
        "script_time_limit_seconds = 2.0",
        """script_time_limit_seconds = 10.0
script_memory_limit_mb = 16

[custom_claims.user]
callable = "failing_hooks:raising_claims"
""",
    )
    server = server_factory(config)
    refused = user_token(server)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "access_denied"
    assert logged(server, "raised RuntimeError")

    set_script(server, ALLOCATING_SCRIPT, database_url)  # a stored script takes precedence
    started = time.monotonic()
    refused = user_token(server)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "access_denied"
    assert logged(server, "memory limit")  # stopped by the memory limit, not the time limit
    assert time.monotonic() - started < 10.0

    assert server.process.poll() is None  # V8 running out of memory did not take the process
    assert served_machine_token(server).status_code == 200
    assert user_token(server).json()["error"] == "access_denied"  # and it still fails closed
