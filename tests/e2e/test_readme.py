"""The README's two set-up commands are the real ones.

The first is run literally in a fresh clone and must yield a working server
that hands out a token to the demo client; the second must be what .ci/run runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx2
import pytest

from tests.conftest import TEST_DATABASE
from tests.e2e.conftest import free_port
from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SECONDS = 600


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_second():
    commands = setup_commands()
    assert len(commands) == 2
    assert "tokensmith serve" in commands[0]
    assert "pytest" in commands[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in [line.replace(" -q ", " ") for line in ci_lines]


@pytest.mark.skipif(
    TEST_DATABASE != "sqlite", reason="the README's run command is the embedded (SQLite) default"
)
def test_readme_run_command_starts_a_server_in_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENSMITH_", "VIRTUAL_ENV"))}
    env["TOKENSMITH_PORT"] = str(port)
    process = subprocess.Popen(
        ["bash", "-c", setup_commands()[0]],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        secret = wait_for_demo_secret(process, lines, base_url)
        response = httpx2.post(
            f"{base_url}/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth("demo-client", secret),
        )
    finally:
        # bash and the server it started share a session: stop them together.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def wait_for_demo_secret(process: subprocess.Popen[str], lines: list[str], base_url: str) -> str:
    deadline = time.monotonic() + INSTALL_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "the README's run command exited:\n" + "".join(lines)
        secrets = [line.split()[-1] for line in list(lines) if "client_secret:" in line]
        if secrets:
            try:
                httpx2.get(f"{base_url}/.well-known/jwks.json", timeout=1)
                return secrets[0]
            except httpx2.TransportError:
                pass
        time.sleep(0.5)
    raise AssertionError("the server did not come up:\n" + "".join(lines))
