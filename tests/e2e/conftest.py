"""Start the real server (``python -m tokensmith serve``) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from tests.conftest import TEST_PASSWORD_HASHING

HERE = Path(__file__).parent
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[str]
    workdir: Path
    output: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        # Drain the output as it comes: a server that logs a line per request
        # (the audit log) would otherwise fill the 64 KiB pipe and block.
        stream = self.process.stdout
        if stream is not None:
            self._reader = threading.Thread(target=self.output.extend, args=(stream,), daemon=True)
            self._reader.start()

    def stop(self) -> str:
        """Stop the process and return everything it printed (again, if already stopped)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.process.stdout is not None and not self.process.stdout.closed:
            self.process.stdout.close()
        return "".join(self.output)


def start_server(
    workdir: Path,
    args: list[str],
    *,
    port: int | None = None,
    module: str = "tokensmith",
    database_url: str | None = None,
) -> RunningServer:
    """Run ``python -m <module> serve ...`` in ``workdir``; wait until discovery answers."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE), "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("TOKENSMITH_")}
    if database_url is not None:
        env["TOKENSMITH_DATABASE_URL"] = database_url
    for name, value in TEST_PASSWORD_HASHING.items():
        env[f"TOKENSMITH_PASSWORD_HASHING__{name.upper()}"] = str(value)
    command = [sys.executable, "-m", module, "serve", "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", process, workdir)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.stop()}")
        try:
            httpx2.get(f"{server.base_url}/.well-known/openid-configuration", timeout=1)
            return server
        except httpx2.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"server did not start:\n{server.stop()}")


@pytest.fixture
def server_factory(
    tmp_path: Path, database_url: str | None
) -> Iterator[Callable[..., RunningServer]]:
    """Start servers that are stopped when the test ends."""
    started: list[RunningServer] = []

    def start(config: str | None = None, *, module: str = "tokensmith") -> RunningServer:
        args: list[str] = []
        if config is not None:
            path = tmp_path / "tokensmith.toml"
            path.write_text(config)
            args = ["--config", str(path)]
        server = start_server(tmp_path, args, module=module, database_url=database_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


CONFIG = """
[[clients]]
client_id = "orders-service"
client_secret = "s3cret-from-a-vault"
token_endpoint_auth_method = "client_secret_basic"
grant_types = ["client_credentials"]
scopes = ["api:read", "api:write"]

[[clients]]
client_id = "reports-job"
client_secret_hash = "{post_hash}"
token_endpoint_auth_method = "client_secret_post"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read", "api:write"]
access_token_format = "jwt"
"""


@pytest.fixture
def config_text() -> str:
    from tokensmith.clientauth.secrets import hash_with_argon2

    return CONFIG.replace("{post_hash}", hash_with_argon2("reports-secret"))
