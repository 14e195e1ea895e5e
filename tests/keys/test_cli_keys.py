"""``tokensmith keys``: the CLI against a SQLite database in a temporary data folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokensmith.cli import main

Cli = Callable[..., Result]
OTHER_KEK = "UbDDWMdqMw1hBHCtG3DPxSvbOBfdDG3VbNGPYLqkLUs="


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokensmith.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\ncreate_demo_client = false\n'
        "key_announce_seconds = 600\nkey_publish_overlap = 7200\n"
    )
    return path


@pytest.fixture
def cli(config_file: Path) -> Cli:
    def invoke(command: str, *rest: str) -> Result:
        return CliRunner().invoke(main, ["keys", command, "--config", str(config_file), *rest])

    return invoke


def listed(cli: Cli) -> list[dict[str, object]]:
    result = cli("list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rotate_on_an_empty_database_adds_a_key_that_signs_at_once(cli):
    result = cli("rotate")
    assert result.exit_code == 0, result.output
    (key,) = listed(cli)
    assert key["kid"] == result.stdout.strip()
    assert (key["alg"], key["status"]) == ("ES256", "active")
    assert key["activates_at"] == key["created_at"]


def test_rotate_publishes_the_next_key_for_the_announce_window(cli):
    first = cli("rotate").stdout.strip()
    result = cli("rotate")
    assert result.exit_code == 0, result.output
    assert "published now; signs from " in result.stderr
    old, new = listed(cli)
    assert (old["kid"], old["status"]) == (first, "active")
    assert (new["kid"], new["status"]) == (result.stdout.strip(), "next")
    assert new["activates_at"] == new["created_at"] + 600


def test_rotate_now_signs_at_once_and_keeps_the_old_key_published(cli):
    first = cli("rotate").stdout.strip()
    new = cli("rotate", "--now").stdout.strip()
    old, current = listed(cli)
    assert (old["kid"], old["status"]) == (first, "retired")
    assert (current["kid"], current["status"]) == (new, "active")
    assert old["remove_after"] == old["retired_at"] + 7200


def test_list_prints_a_table_of_kid_alg_status_and_times(cli):
    kid = cli("rotate").stdout.strip()
    result = cli("list")
    assert result.exit_code == 0, result.output
    heading, row = result.stdout.splitlines()
    assert heading.split() == [
        "KID", "ALG", "STATUS", "CREATED", "ACTIVATES", "RETIRED", "REMOVE", "AFTER",
    ]  # fmt: skip
    cells = row.split()
    assert cells[:3] == [kid, "ES256", "active"]
    assert cells[3].endswith("Z") and cells[3] == cells[4]
    assert cells[5:] == ["-", "-"]


def test_retire_hands_signing_to_the_next_key(cli):
    first = cli("rotate").stdout.strip()
    second = cli("rotate").stdout.strip()
    # A kid is base64url and may begin with "-": "--" ends the options first.
    result = cli("retire", "--", first)
    assert result.exit_code == 0, result.output
    assert f"{first} is retired; published until " in result.stderr
    old, new = listed(cli)
    assert (old["kid"], old["status"], new["kid"], new["status"]) == (
        first, "retired", second, "active",
    )  # fmt: skip


def test_retire_refuses_to_leave_no_signing_key(cli):
    only = cli("rotate").stdout.strip()
    result = cli("retire", "--", only)
    assert result.exit_code == 1
    assert f"tokensmith: key {only} is the only one that can sign" in result.stderr
    assert listed(cli)[0]["status"] == "active"


def test_retire_an_unknown_kid_exits_1(cli):
    cli("rotate")
    result = cli("retire", "--", "no-such-kid")
    assert result.exit_code == 1
    assert "no signing key has kid 'no-such-kid'" in result.stderr


def test_a_bad_config_exits_2_naming_the_key(cli, config_file):
    config_file.write_text(config_file.read_text() + "key_rotation_days = -1\n")
    result = cli("list")
    assert result.exit_code == 2
    assert "key_rotation_days" in result.stderr


def test_rotate_with_another_key_encryption_key_exits_1_and_adds_nothing(cli, monkeypatch):
    cli("rotate")
    monkeypatch.setenv("TOKENSMITH_KEY_ENCRYPTION_KEY", OTHER_KEK)
    result = cli("rotate")
    assert result.exit_code == 1
    assert "cannot decrypt the stored signing keys" in result.stderr
    monkeypatch.delenv("TOKENSMITH_KEY_ENCRYPTION_KEY")
    assert len(listed(cli)) == 1
