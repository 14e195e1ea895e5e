"""Configuration: the TOML file, the environment, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tokensmith import ConfigError, Settings

DESIGN_EXAMPLE = """
issuer = "http://127.0.0.1:8000"
database_url = "sqlite+aiosqlite:///./tokensmith-data/tokensmith.db"

[[clients]]
client_id = "orders-service"
client_secret = "s3cret-from-a-vault"
token_endpoint_auth_method = "client_secret_basic"
grant_types = ["client_credentials"]
scopes = ["api:read"]
redirect_uris = []

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read", "api:write"]
access_token_format = "jwt"

[[users]]
username = "alice"
password = "correct horse battery staple"
email = "alice@example.test"
claims = { given_name = "Alice", roles = ["admin"] }

[hooks]
token_creation = "myapp.tokens:CustomTokenCreationService"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokensmith.toml"
    path.write_text(text)
    return path


def test_design_example_loads(tmp_path):
    settings = Settings.load(write(tmp_path, DESIGN_EXAMPLE))
    assert settings.issuer_url == "http://127.0.0.1:8000"
    assert settings.clients[0].client_id == "orders-service"
    assert settings.api_resources[0].scopes == ["api:read", "api:write"]
    assert settings.hooks.token_creation == "myapp.tokens:CustomTokenCreationService"


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENSMITH_ISSUER", "https://auth.example.test")
    monkeypatch.setenv("TOKENSMITH_ACCESS_TOKEN_LIFETIME", "120")
    settings = Settings.load(write(tmp_path, DESIGN_EXAMPLE))
    assert settings.issuer_url == "https://auth.example.test"
    assert settings.access_token_lifetime == 120


def test_cli_overrides_beat_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENSMITH_PORT", "9001")
    assert Settings.load(None, port=9002).port == 9002


def test_issuer_defaults_to_host_and_port():
    assert Settings(port=9100).issuer_url == "http://127.0.0.1:9100"


def test_database_defaults_to_sqlite_in_the_data_folder(tmp_path):
    settings = Settings(data_dir=tmp_path / "d")
    assert settings.database == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'tokensmith.db'}"


def test_tokensmith_toml_in_the_working_directory_is_read(tmp_path, monkeypatch):
    write(tmp_path, 'issuer = "https://cwd.example.test"\n')
    monkeypatch.chdir(tmp_path)
    assert Settings.load().issuer_url == "https://cwd.example.test"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("port = 70000\n", "port", "less than or equal to 65535"),
        ('issuer = "ftp://x"\n', "issuer", "http(s) URL"),
        ('issuer = "https://x/?a=b"\n', "issuer", "query or fragment"),
        ("acces_token_lifetime = 5\n", "acces_token_lifetime", "Extra inputs"),
        ("access_token_lifetime = -5\n", "access_token_lifetime", "greater than 0"),
        (
            '[[clients]]\nclient_id = "a"\n',
            "clients[0]",
            "exactly one of client_secret, client_secret_hash",
        ),
        (
            '[[clients]]\nclient_id = "a"\nclient_secret = "s"\n'
            'token_endpoint_auth_method = "magic"\n',
            "clients[0].token_endpoint_auth_method",
            "client_secret_basic",
        ),
        (
            '[[clients]]\nclient_id = "a"\nclient_secret = "s"\nscopes = ["nope"]\n',
            "clients[0].scopes",
            "not owned by any api_resources entry",
        ),
        (
            '[[api_resources]]\naudience = "urn:a"\naccess_token_format = "xml"\n',
            "api_resources[0].access_token_format",
            "'jwt'",
        ),
        ('[hooks]\ntoken_creation = "not an import string"\n', "hooks.token_creation", "pattern"),
    ],
)
def test_invalid_config_names_the_key_and_the_problem(tmp_path, text, key, problem):
    with pytest.raises(ConfigError) as raised:
        Settings.load(write(tmp_path, text))
    message = str(raised.value)
    assert f"{key}:" in message, message
    assert problem in message, message


def test_duplicate_client_ids_are_refused(tmp_path):
    text = '[[clients]]\nclient_id = "a"\nclient_secret = "s"\n' * 2
    with pytest.raises(ConfigError, match=r"clients\[1\]: duplicate 'a'"):
        Settings.load(write(tmp_path, text))


def test_toml_syntax_error_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(write(tmp_path, "issuer = \n"))


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        Settings.load(tmp_path / "absent.toml")


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokensmith", "serve", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("port = 0\n", "port: Input should be greater than or equal to 1"),
        (
            '[hooks]\ntoken_creation = "nowhere.at_all:Thing"\n',
            "hooks.token_creation: cannot import",
        ),
        (
            '[[clients]]\nclient_id = "a"\nclient_secret = "s"\ngrant_types = ["password"]\n',
            "clients[0].grant_types[0]: 'password' is not supported",
        ),
        ("issuer = [\n", "not valid TOML"),
    ],
)
def test_serve_with_an_invalid_config_exits_non_zero_with_a_clear_error(tmp_path, text, expected):
    result = run_serve(tmp_path, "--config", str(write(tmp_path, text)))
    assert result.returncode == 2, result
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "tokensmith-data").exists()


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("https://app.example.test/cb", True),
        ("http://127.0.0.1:5173/cb", True),
        ("http://[::1]/cb", True),
        ("http://localhost:3000/cb", True),
        ("com.example.app:/oauth2redirect", True),
        ("http://app.example.test/cb", False),
        ("http://127.0.0.1.evil.test/cb", False),
    ],
)
def test_cleartext_redirect_uris_are_only_for_loopback(tmp_path, uri, allowed):
    """RFC 9700 section 2.6: no authorization response over plain http off the machine."""
    text = (
        '[[clients]]\nclient_id = "a"\nclient_secret = "s"\n'
        f'grant_types = ["authorization_code"]\nredirect_uris = ["{uri}"]\n'
    )
    if allowed:
        assert Settings.load(write(tmp_path, text)).clients[0].redirect_uris == [uri]
        return
    with pytest.raises(ConfigError) as raised:
        Settings.load(write(tmp_path, text))
    assert "clients[0].redirect_uris:" in str(raised.value)
    assert "only allowed on loopback" in str(raised.value)
