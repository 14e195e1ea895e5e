"""Claims preview: every claim of the would-be payload is attributed to the stage that set it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.tokens.claims_hooks import LOGTO_STYLE_SCRIPT
from tests.tokens.test_custom_claims import CONFIG
from tokensmith import DefaultClaimsService, DefaultTokenCreationService, Services
from tokensmith.cli import main
from tokensmith.composition import compose, start, stop
from tokensmith.tokens.preview import preview_access_token


class DepartmentClaims(DefaultClaimsService):
    async def get_access_token_claims(self, request):
        return {"department": "research"}


class StampingCreation(DefaultTokenCreationService):
    async def create_payload(self, token):
        token.audiences.append("custom1")
        payload = await super().create_payload(token)
        payload["stamp"] = "by-create-payload"
        return payload


async def test_preview_names_each_stage(make_settings):
    settings = make_settings(
        **CONFIG,
        custom_claims={
            "environment": {"TENANT": "acme"},
            "user": {"callable": "tests.tokens.claims_hooks:get_custom_jwt_claims"},
        },
    )
    services = Services(claims_service=DepartmentClaims, token_creation=StampingCreation)
    components = compose(settings, services)
    await start(components)
    try:
        result = await preview_access_token(components, "legacy", "alice", "openid api:read")
    finally:
        await stop(components)
    hook = "python tests.tokens.claims_hooks:get_custom_jwt_claims"
    assert result.sources == {
        "department": "claims service",
        "roles": hook,
        "plan": hook,
        "tenant": hook,
        "iss": "built-in",
        "exp": "built-in",
        "iat": "built-in",
        "sub": "built-in",
        "aud": "create_payload (changed built-in)",
        "jti": "built-in",
        "client_id": "built-in",
        "scope": "built-in",
        "stamp": "create_payload",
    }
    assert result.payload["aud"][-1] == "custom1"
    assert result.payload["roles"] == ["admin", "editor"]
    assert result.token_format == "jwt"


def write_config(tmp_path) -> str:
    path = tmp_path / "tokensmith.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "cli-data"}"\n'
        "password_grant_enabled = true\n"
        '[[clients]]\nclient_id = "legacy"\nclient_secret = "s"\n'
        'grant_types = ["password"]\nscopes = ["openid", "api:read"]\n'
        '[[api_resources]]\naudience = "https://api.example.test"\nscopes = ["api:read"]\n'
        '[[users]]\nusername = "alice"\npassword = "correct horse battery staple"\n'
        'claims = { roles = ["admin"], plan = "pro" }\n'
        '[custom_claims]\nenvironment = { TENANT = "acme" }\n'
    )
    return str(path)


def test_cli_script_set_then_preview_and_test(tmp_path):
    config = write_config(tmp_path)
    script = tmp_path / "claims.js"
    script.write_text(LOGTO_STYLE_SCRIPT.replace("roles:", "iss: 'evil', roles:"))
    runner = CliRunner()
    saved = runner.invoke(
        main, ["claims", "script", "set", "--config", config, "user", str(script)]
    )
    assert saved.exit_code == 0, saved.output
    preview = runner.invoke(
        main,
        [
            "claims",
            "preview",
            "--config",
            config,
            "--client",
            "legacy",
            "--user",
            "alice",
            "--scope",
            "openid api:read",
            "--json",
        ],
    )
    assert preview.exit_code == 0, preview.output
    report = json.loads(preview.stdout)
    assert report["payload"]["roles"] == ["admin"]
    assert report["sources"]["roles"] == "stored script (user)"
    assert report["sources"]["iss"] == "built-in"
    assert report["dropped"] == {"iss": "stored script (user): protected built-in claim"}
    dry = runner.invoke(main, ["claims", "test", "--config", config, "--script", str(script)])
    assert dry.exit_code == 0, dry.output
    outcome = json.loads(dry.stdout)
    assert outcome["claims"]["plan"] == "pro"
    assert outcome["dropped"] == {"iss": "protected built-in claim"}
    shown = runner.invoke(main, ["claims", "script", "show", "--config", config, "user"])
    assert shown.stdout == script.read_text()
    removed = runner.invoke(main, ["claims", "script", "remove", "--config", config, "user"])
    assert removed.exit_code == 0
    again = runner.invoke(main, ["claims", "script", "show", "--config", config, "user"])
    assert again.exit_code == 1


def test_cli_refuses_a_script_that_does_not_compile(tmp_path):
    config = write_config(tmp_path)
    script = tmp_path / "broken.js"
    script.write_text("const getCustomJwtClaims = async ({ token }) => { return {")
    result = CliRunner().invoke(
        main, ["claims", "script", "set", "--config", config, "user", str(script)]
    )
    assert result.exit_code == 1
    assert "tokensmith:" in result.stderr


def test_cli_preview_of_an_unknown_client_exits_1(tmp_path):
    result = CliRunner().invoke(
        main, ["claims", "preview", "--config", write_config(tmp_path), "--client", "nobody"]
    )
    assert result.exit_code == 1
    assert "no client 'nobody'" in result.stderr
