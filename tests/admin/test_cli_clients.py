"""``tokensmith clients`` and the admin API change the same records."""

from __future__ import annotations

import json
import tomllib

from click.testing import CliRunner

from tests.admin.conftest import ADMIN_CONFIG, admin_headers, token_for
from tests.admin.test_caching import eventually
from tokensmith.cli import main


def write_config(path, settings) -> None:
    lines = [f'data_dir = "{settings.data_dir}"', f'database_url = "{settings.database}"']
    lines.append("create_demo_client = false")
    lines.append("[password_hashing]\ntime_cost = 1\nmemory_kib = 8192\nparallelism = 1")
    for resource in ADMIN_CONFIG["api_resources"]:
        lines.append(f"[[api_resources]]\naudience = {json.dumps(resource['audience'])}")
        lines.append(f"scopes = {json.dumps(resource['scopes'])}")
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())


def cli(config, *args: str):
    return CliRunner().invoke(main, ["clients", *args, "--config", str(config)])


def test_cli_and_api_see_each_other(make_client, make_settings, tmp_path):
    server = make_client(**ADMIN_CONFIG)
    config = tmp_path / "cli.toml"
    write_config(config, make_settings(**ADMIN_CONFIG))
    added = cli(config, "add", "from-cli", "--scope", "api:read")
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    eventually(lambda: token_for(server, "from-cli", secret).status_code == 200)
    headers = admin_headers(server)
    shown = server.get("/admin/clients/from-cli", headers=headers).json()
    assert shown["scopes"] == ["api:read"]

    server.post("/admin/clients", json={"client_id": "from-api"}, headers=headers)
    listed = cli(config, "list")
    assert "from-api  database" in listed.stdout
    assert json.loads(cli(config, "show", "from-api").stdout)["client_id"] == "from-api"

    rotated = cli(config, "rotate-secret", "from-cli")
    assert rotated.exit_code == 0, rotated.output
    eventually(lambda: token_for(server, "from-cli", secret).status_code == 401)
    assert token_for(server, "from-cli", rotated.stdout.strip()).status_code == 200

    assert cli(config, "delete", "from-api").exit_code == 0
    assert server.get("/admin/clients/from-api", headers=headers).status_code == 404


def test_cli_refuses_bad_clients_with_the_api_message(make_settings, tmp_path):
    config = tmp_path / "cli.toml"
    write_config(config, make_settings(**ADMIN_CONFIG))
    bad = cli(config, "add", "x", "--redirect-uri", "http://evil.example.test/cb")
    assert bad.exit_code == 1
    assert "redirect_uris" in bad.stderr
    assert cli(config, "delete", "nobody").exit_code == 1


def test_resources_added_by_the_cli_are_served_and_listed(make_client, make_settings, tmp_path):
    server = make_client(**ADMIN_CONFIG)
    config = tmp_path / "cli.toml"
    write_config(config, make_settings(**ADMIN_CONFIG))
    runner = CliRunner()
    base = ["resources"]
    added = runner.invoke(
        main, [*base, "add", "https://r.example.test", "--scope", "r:read", "--config", str(config)]
    )
    assert added.exit_code == 0, added.output
    headers = admin_headers(server)
    client = {"client_id": "r-client", "scopes": ["r:read"]}

    def created() -> bool:
        return server.post("/admin/clients", json=client, headers=headers).status_code == 201

    eventually(created)  # the scope is known once the server sees the resource
    listed = runner.invoke(main, [*base, "list", "--config", str(config)]).stdout
    assert "https://r.example.test  database  jwt  r:read" in listed
    assert "https://api.example.test  config" in listed
    refused = runner.invoke(
        main, [*base, "delete", "https://api.example.test", "--config", str(config)]
    )
    assert refused.exit_code == 1
    assert "read-only" in refused.stderr
