"""``tokensmith users``: the CLI against a real database, checked through the user store."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from tests.conftest import POSTGRES_URL
from tokensmith.cli import main
from tokensmith.models.user import User
from tokensmith.settings import Settings
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users.authenticator import StoredUserAuthenticator

# Every username starts with this, so that the PostgreSQL run can delete
# exactly its own rows from a database that other tests share.
PREFIX = "cli-test-"
ALICE = f"{PREFIX}alice"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a different long password"

Cli = Callable[..., Result]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokensmith.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\ncreate_demo_client = false\n')
    return path


@pytest.fixture
def cli(config_file: Path) -> Cli:
    """Runs ``tokensmith users ARGS --config FILE``, feeding ``stdin`` to standard input."""

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, ["users", *args, "--config", str(config_file)], stdin)

    return invoke


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return Settings.load(config_file)


def add(cli: Cli, username: str = ALICE, password: str = PASSWORD, *options: str) -> Result:
    return cli("add", username, "--password-stdin", *options, stdin=f"{password}\n")


def authenticate(settings: Settings, username: str, password: str) -> User | None:
    """What a login would get, read from the database the CLI wrote."""

    async def attempt() -> User | None:
        engine = create_engine(settings.database)
        try:
            authenticator = StoredUserAuthenticator(SqlUserStore(engine))
            return await authenticator.authenticate(username, password)
        finally:
            await engine.dispose()

    return asyncio.run(attempt())


def stored_hash(settings: Settings, username: str) -> str | None:
    async def read() -> str | None:
        engine = create_engine(settings.database)
        try:
            found = await SqlUserStore(engine).get_password_hash(username)
        finally:
            await engine.dispose()
        return None if found is None else found[1]

    return asyncio.run(read())


def assert_no_secret(result: Result, *secrets: str | None) -> None:
    for secret in secrets:
        assert secret is None or secret not in result.output


def test_add_prints_a_new_sub_and_stores_an_argon2_hash(cli, settings):
    result = add(cli)
    assert result.exit_code == 0, result.output
    sub = result.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", sub)
    password_hash = stored_hash(settings, ALICE)
    assert password_hash is not None
    assert password_hash.startswith("$argon2id$")
    assert_no_secret(result, PASSWORD, password_hash)
    user = authenticate(settings, ALICE, PASSWORD)
    assert user is not None
    assert user.subject_id == sub


def test_add_then_list_shows_one_line_per_user(cli, settings):
    alice = add(cli, ALICE, PASSWORD, "--email", "alice@example.test", "--role", "admin")
    bob = add(cli, f"{PREFIX}bob", PASSWORD, "--role", "ops", "--role", "audit")
    assert cli("disable", f"{PREFIX}bob").exit_code == 0

    result = cli("list")

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [
        [ALICE, alice.stdout.strip(), "alice@example.test", "admin", "enabled"],
        [f"{PREFIX}bob", bob.stdout.strip(), "-", "ops,audit", "disabled"],
    ]
    assert_no_secret(result, PASSWORD, stored_hash(settings, ALICE))


def test_list_json_prints_an_array_of_every_field_but_the_password(cli, settings):
    added = add(
        cli,
        ALICE,
        PASSWORD,
        *("--email", "alice@example.test", "--email-verified", "--given-name", "Alice"),
        *("--family-name", "Liddell", "--name", "Alice Liddell", "--role", "admin"),
        *("--custom-data", '{"plan": "gold", "seats": 3}'),
    )
    assert added.exit_code == 0, added.output

    result = cli("list", "--json")

    assert result.exit_code == 0, result.output
    [user] = json.loads(result.stdout)
    assert user.pop("updated_at") > 0
    assert user == {
        "username": ALICE,
        "sub": added.stdout.strip(),
        "email": "alice@example.test",
        "email_verified": True,
        "profile": {"given_name": "Alice", "family_name": "Liddell", "name": "Alice Liddell"},
        "roles": ["admin"],
        "custom_data": {"plan": "gold", "seats": 3},
        "enabled": True,
    }
    assert_no_secret(result, PASSWORD, stored_hash(settings, ALICE))


def test_list_of_no_users_prints_nothing_on_stdout(cli):
    assert cli("list").stdout == ""
    assert json.loads(cli("list", "--json").stdout) == []


def test_add_prompts_for_the_password_twice_without_echoing_it(cli, settings):
    result = cli("add", ALICE, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert_no_secret(result, PASSWORD)
    assert authenticate(settings, ALICE, PASSWORD) is not None


def test_add_refuses_a_taken_username_and_writes_nothing(cli, settings):
    first = add(cli)
    first_hash = stored_hash(settings, ALICE)

    result = add(cli, ALICE, NEW_PASSWORD, "--email", "other@example.test")

    assert result.exit_code == 1
    assert f"a user named '{ALICE}' already exists" in result.stderr
    assert result.stdout == ""
    assert stored_hash(settings, ALICE) == first_hash
    assert [line.split()[1] for line in cli("list").stdout.splitlines()] == [first.stdout.strip()]
    assert authenticate(settings, ALICE, NEW_PASSWORD) is None


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "the password is empty"), ("seven77", "shorter than 8 characters")],
)
def test_add_refuses_an_empty_or_short_password(cli, password, message):
    result = add(cli, ALICE, password)
    assert result.exit_code == 1
    assert message in result.stderr
    assert cli("list").stdout == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--custom-data", "[1, 2]"], "must be a JSON object"),
        (["--custom-data", "{nope"], "not valid JSON"),
        (["--email-verified"], "needs --email"),
    ],
)
def test_add_refuses_malformed_options_as_usage_errors(cli, options, message):
    result = add(cli, ALICE, PASSWORD, *options)
    assert result.exit_code == 2
    assert message in result.stderr
    assert cli("list").stdout == ""


@pytest.mark.parametrize("username", ["", " padded", "tab\there", "x" * 201])
def test_add_refuses_a_malformed_username(cli, username):
    result = add(cli, username)
    assert result.exit_code == 2
    assert "printable characters" in result.stderr


def test_set_password_replaces_the_argon2_hash(cli, settings):
    add(cli)
    old_hash = stored_hash(settings, ALICE)

    result = cli("set-password", ALICE, "--password-stdin", stdin=f"{NEW_PASSWORD}\n")

    assert result.exit_code == 0, result.output
    new_hash = stored_hash(settings, ALICE)
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$")
    assert new_hash != old_hash
    assert authenticate(settings, ALICE, NEW_PASSWORD) is not None
    assert authenticate(settings, ALICE, PASSWORD) is None
    assert_no_secret(result, NEW_PASSWORD, new_hash)


def test_set_password_refuses_a_short_password_and_keeps_the_old_one(cli, settings):
    add(cli)
    result = cli("set-password", ALICE, "--password-stdin", stdin="short\n")
    assert result.exit_code == 1
    assert "shorter than 8 characters" in result.stderr
    assert authenticate(settings, ALICE, PASSWORD) is not None


def test_disable_refuses_authentication_and_enable_restores_it(cli, settings):
    sub = add(cli).stdout.strip()

    assert cli("disable", ALICE).exit_code == 0
    assert authenticate(settings, ALICE, PASSWORD) is None
    assert cli("list").stdout.split()[-1] == "disabled"

    assert cli("enable", ALICE).exit_code == 0
    user = authenticate(settings, ALICE, PASSWORD)
    assert user is not None
    assert user.subject_id == sub
    assert cli("list").stdout.split()[-1] == "enabled"


@pytest.mark.parametrize(
    "args",
    [["set-password", "--password-stdin"], ["disable"], ["enable"]],
    ids=["set-password", "disable", "enable"],
)
def test_commands_on_an_unknown_user_exit_1(cli, args):
    result = cli(*args, f"{PREFIX}nobody", stdin=f"{PASSWORD}\n")
    assert result.exit_code == 1
    assert f"no user named '{PREFIX}nobody'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["add", ALICE, "--password-stdin"], ["list"], ["set-password", ALICE], ["disable", ALICE]],
    ids=["add", "list", "set-password", "disable"],
)
def test_an_invalid_config_exits_2_naming_the_key(cli, config_file, args):
    config_file.write_text('bogus_key = 1\ndata_dir = "x"\n')
    result = cli(*args, stdin=f"{PASSWORD}\n")
    assert result.exit_code == 2
    assert "bogus_key" in result.stderr
    assert result.stderr.startswith("tokensmith: invalid configuration")


def test_a_missing_config_file_exits_2(tmp_path):
    missing = tmp_path / "absent.toml"
    result = CliRunner().invoke(main, ["users", "list", "--config", str(missing)])
    assert result.exit_code == 2
    assert "no such config file" in result.stderr


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_config(request: pytest.FixtureRequest, config_file: Path) -> Iterator[Settings]:
    """The config file on SQLite or on the shared PostgreSQL test database.

    On PostgreSQL only this module's users (``PREFIX``) are deleted, before
    and after, since other tests use the same database.
    """
    if request.param == "postgresql":
        config_file.write_text(
            config_file.read_text() + f'database_url = "{POSTGRES_URL}"\n', encoding="utf-8"
        )
    settings = Settings.load(config_file)
    asyncio.run(_delete_test_users(settings))
    yield settings
    asyncio.run(_delete_test_users(settings))


async def _delete_test_users(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database)
    try:
        await create_schema(engine)
        async with engine.begin() as connection:
            statement = text("DELETE FROM users WHERE username LIKE :prefix")
            await connection.execute(statement, {"prefix": f"{PREFIX}%"})
    finally:
        await engine.dispose()


def test_user_lifecycle_on_each_database(cli, database_config):
    settings = database_config
    sub = add(cli, ALICE, PASSWORD, "--role", "admin").stdout.strip()
    assert add(cli).exit_code == 1
    assert cli("set-password", ALICE, "--password-stdin", stdin=f"{NEW_PASSWORD}\n").exit_code == 0
    assert cli("disable", ALICE).exit_code == 0
    assert authenticate(settings, ALICE, NEW_PASSWORD) is None
    assert cli("enable", ALICE).exit_code == 0

    user = authenticate(settings, ALICE, NEW_PASSWORD)
    assert user is not None
    assert (user.subject_id, user.roles) == (sub, ("admin",))
    assert authenticate(settings, ALICE, PASSWORD) is None
    listed = [u for u in json.loads(cli("list", "--json").stdout) if u["username"] == ALICE]
    assert [(u["sub"], u["enabled"]) for u in listed] == [(sub, True)]
