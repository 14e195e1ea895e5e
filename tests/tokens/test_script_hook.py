"""Stored JavaScript custom-claims scripts: Logto's signature, run in a fresh V8 isolate."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tokensmith.tokens.hooks import script as script_module
from tokensmith.tokens.hooks.base import HookDenied, HookFailed, HookInput
from tokensmith.tokens.hooks.script import ScriptClaimsHook

TOKEN: dict[str, Any] = {
    "iss": "https://issuer.example.test",
    "sub": "u_ada",
    "aud": "https://api.example.test",
    "client_id": "orders-service",
    "scope": "openid orders:read",
    "jti": "jti-1",
}

# The shape Logto documents for a user access token's context.
CONTEXT: dict[str, Any] = {
    "user": {
        "id": "u_ada",
        "username": "ada",
        "primaryEmail": "ada@example.test",
        "primaryPhone": None,
        "name": "Ada Lovelace",
        "avatar": None,
        "customData": {"plan": "pro", "suspended": False},
        "identities": {},
        "profile": {"givenName": "Ada", "familyName": "Lovelace"},
        "roles": [
            {
                "id": "r_admin",
                "name": "admin",
                "description": "Administrators",
                "scopes": [
                    {"id": "s_1", "name": "orders:write", "description": "", "resourceId": "api"},
                    {"id": "s_2", "name": "orders:read", "description": "", "resourceId": "api"},
                ],
            },
            {"id": "r_auditor", "name": "auditor", "description": "", "scopes": []},
        ],
        "organizations": [{"id": "org_acme", "name": "Acme", "description": None}],
        "organizationRoles": [
            {"organizationId": "org_acme", "roleId": "or_1", "roleName": "member"}
        ],
    },
    "application": {"id": "orders-service", "name": "Orders"},
    "grant": {"type": "authorization_code"},
}

LOGTO_STYLE_SCRIPT = """
/**
 * Called while the access token is built; returns extra claims.
 * @param {Object} payload
 */
const getCustomJwtClaims = async ({ token, context, environmentVariables, api }) => {
  const { user } = context;
  if (user.customData.suspended) {
    api.denyAccess('Your account is suspended.');
  }
  return {
    roles: user.roles.map((role) => role.name),
    permissions: user.roles.flatMap((role) => role.scopes.map((scope) => scope.name)),
    plan: user.customData.plan,
    organizations: user.organizations.map(({ id }) => id),
  };
};
"""


def hook(body: str, **limits: Any) -> ScriptClaimsHook:
    """A hook whose getCustomJwtClaims has the given body, in Logto's arrow form."""
    source = (
        "const getCustomJwtClaims = async ({ token, context, environmentVariables, api }) => {\n"
        f"{body}\n}};"
    )
    return ScriptClaimsHook(source, **limits)


def hook_input(
    context: dict[str, Any] | None = None, environment: dict[str, str] | None = None
) -> HookInput:
    return HookInput(token=dict(TOKEN), context=context or CONTEXT, environment=environment or {})


async def test_logto_style_script_turns_roles_and_custom_data_into_claims():
    claims = await ScriptClaimsHook(LOGTO_STYLE_SCRIPT).run(hook_input())

    assert claims == {
        "roles": ["admin", "auditor"],
        "permissions": ["orders:write", "orders:read"],
        "plan": "pro",
        "organizations": ["org_acme"],
    }


async def test_logto_style_script_can_deny_a_suspended_user():
    suspended = {**CONTEXT, "user": {**CONTEXT["user"], "customData": {"suspended": True}}}

    with pytest.raises(HookDenied) as caught:
        await ScriptClaimsHook(LOGTO_STYLE_SCRIPT).run(hook_input(suspended))

    assert caught.value.message == "Your account is suspended."


@pytest.mark.parametrize(
    "source",
    [
        "const getCustomJwtClaims = async ({ token, context, environmentVariables }) => "
        "({ ok: true });",
        "async function getCustomJwtClaims({ token }) { return { ok: true }; }",
        "function getCustomJwtClaims() { return { ok: true }; }",
    ],
    ids=["without-api", "async-function-declaration", "plain-function"],
)
async def test_other_logto_script_forms_run_unchanged(source: str):
    assert await ScriptClaimsHook(source).run(hook_input()) == {"ok": True}


async def test_script_reads_the_token_payload_built_so_far():
    claims = await hook("return { aud_seen: token.aud, scope_seen: token.scope };").run(
        hook_input()
    )

    assert claims == {"aud_seen": "https://api.example.test", "scope_seen": "openid orders:read"}


async def test_environment_is_visible_as_environment_variables():
    environment = {"API_KEY": "k-123", "TIER": "gold"}

    claims = await hook("return { tier: environmentVariables.TIER };").run(
        hook_input(environment=environment)
    )

    assert claims == {"tier": "gold"}


async def test_input_text_reaches_the_script_as_data_never_as_code():
    hostile = {
        "quote": '"); globalThis.pwned = true; ("',
        "backslashes": "\\\\u0022 \\",
        "separators": "line\u2028paragraph\u2029end",
        "markup": "</script><!--",
        "unicode": "Łódź 🚀",
    }

    claims = await hook("return { echoed: context, pwned: typeof pwned };").run(hook_input(hostile))

    assert claims == {"echoed": hostile, "pwned": "undefined"}


async def test_deny_access_refuses_with_the_scripts_message():
    with pytest.raises(HookDenied) as caught:
        await hook("api.denyAccess('nope');").run(hook_input())

    assert caught.value.message == "nope"


async def test_deny_access_after_an_await_still_refuses():
    with pytest.raises(HookDenied) as caught:
        await hook("await null; api.denyAccess('later');").run(hook_input())

    assert caught.value.message == "later"


async def test_thrown_error_fails_with_its_message():
    with pytest.raises(HookFailed) as caught:
        await hook("throw new Error('boom');").run(hook_input())

    assert "boom" in caught.value.reason


async def test_long_error_message_is_truncated_to_200_characters():
    with pytest.raises(HookFailed) as caught:
        await hook("throw new Error('x'.repeat(5000));").run(hook_input())

    assert "xxxx" in caught.value.reason
    assert len(caught.value.reason) < 260


@pytest.mark.parametrize(
    "body",
    ["while (true) {}", "await null; while (true) {}", "return new Promise(() => {});"],
    ids=["busy-loop", "busy-loop-after-await", "never-resolves"],
)
async def test_script_that_never_finishes_fails_within_the_time_limit(body: str):
    looping = hook(body, time_limit_seconds=0.5)
    started = time.monotonic()

    with pytest.raises(HookFailed) as caught:
        await looping.run(hook_input())

    assert time.monotonic() - started < 3
    assert "time limit" in caught.value.reason


async def test_unbounded_allocation_fails_and_the_process_keeps_working():
    greedy = hook("const hoard = []; while (true) { hoard.push('x'.repeat(1e5) + Math.random()); }")

    with pytest.raises(HookFailed) as caught:
        await greedy.run(hook_input())

    assert "memory limit" in caught.value.reason
    assert await hook("return { alive: true };").run(hook_input()) == {"alive": True}


@pytest.mark.parametrize(
    ("returned", "kind"),
    [
        ("[1, 2]", "an array"),
        ("'claims'", "a string"),
        ("42", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
        ("undefined", "undefined"),
    ],
)
async def test_result_that_is_not_an_object_fails(returned: str, kind: str):
    with pytest.raises(HookFailed) as caught:
        await hook(f"return {returned};").run(hook_input())

    assert caught.value.reason == f"getCustomJwtClaims must return an object, not {kind}"


async def test_result_that_is_not_json_fails():
    with pytest.raises(HookFailed) as caught:
        await hook("return { big: 1n };").run(hook_input())

    assert "BigInt" in caught.value.reason


async def test_result_comes_back_as_plain_json_types():
    claims = await hook(
        "return { when: new Date(0), skipped: () => 1, nested: { list: [1, 'a', null] } };"
    ).run(hook_input())

    assert claims == {"when": "1970-01-01T00:00:00.000Z", "nested": {"list": [1, "a", None]}}


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("const getCustomJwtClaims = async ( => {};", "SyntaxError"),
        ("const getClaims = async () => ({});", "must define getCustomJwtClaims"),
        ("const getCustomJwtClaims = { claims: {} };", "must define getCustomJwtClaims"),
        ("throw new Error('broken at load');", "broken at load"),
        ("while (true) {}", "time limit"),
    ],
    ids=["syntax-error", "missing", "not-a-function", "throws-on-load", "never-loads"],
)
def test_construction_rejects_a_script_that_cannot_run(source: str, complaint: str):
    with pytest.raises(ValueError, match=complaint):
        ScriptClaimsHook(source, time_limit_seconds=0.5)


async def test_construction_inside_a_running_event_loop_still_checks_the_script():
    with pytest.raises(ValueError, match="SyntaxError"):
        ScriptClaimsHook("const getCustomJwtClaims = ;")


async def test_script_has_no_network_file_or_process_access():
    claims = await hook(
        "return { fetch: typeof fetch, require: typeof require, process: typeof process,"
        " XMLHttpRequest: typeof XMLHttpRequest, WebSocket: typeof WebSocket };"
    ).run(hook_input())

    assert set(claims.values()) == {"undefined"}


async def test_script_cannot_import_modules():
    with pytest.raises(HookFailed):
        await hook("const fs = await import('node:fs'); return { read: typeof fs };").run(
            hook_input()
        )


async def test_event_loop_keeps_serving_while_a_script_runs():
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        with pytest.raises(HookFailed):
            await hook("while (true) {}", time_limit_seconds=1.0).run(hook_input())
    finally:
        ticking.cancel()

    assert ticks >= 5


async def test_runs_do_not_share_state():
    counting = hook(
        "globalThis.count = (globalThis.count ?? 0) + 1;"
        " const polluted = 'mark' in {}; Object.prototype.mark = true;"
        " return { count: globalThis.count, polluted };"
    )

    first = await counting.run(hook_input())
    second = await counting.run(hook_input())

    assert first == second == {"count": 1, "polluted": False}


async def test_concurrent_runs_each_get_their_own_answer():
    # Overlapping isolates in worker threads crashed the process until V8 was
    # started without memory protection keys; this is the regression guard.
    echo = hook("return { who: context.user.id };")
    users = [f"u_{n}" for n in range(8)]

    answers = await asyncio.gather(*(echo.run(hook_input({"user": {"id": u}})) for u in users))

    assert answers == [{"who": u} for u in users]


async def test_run_gives_up_on_a_worker_thread_that_v8_cannot_interrupt(
    monkeypatch: pytest.MonkeyPatch,
):
    # Some V8 built-ins ignore termination (new Array(1e8).fill(0) runs for
    # seconds); stand in for one with a worker thread that simply sleeps.
    stuck = hook("return {};", time_limit_seconds=0.1)
    monkeypatch.setattr(script_module, "_GRACE_SECONDS", 0.1)
    monkeypatch.setattr(stuck, "_in_worker", lambda job: time.sleep(0.6))
    started = time.monotonic()

    with pytest.raises(HookFailed, match="time limit"):
        await stuck.run(hook_input())

    assert time.monotonic() - started < 0.5


async def test_isolates_take_turns_when_v8_was_started_by_someone_else(
    monkeypatch: pytest.MonkeyPatch,
):
    # V8 started elsewhere may guard code with memory protection keys, under
    # which isolates overlapping from worker threads crash the process.
    monkeypatch.setattr(script_module, "_start_v8", lambda: False)
    echo = hook("return { who: context.user.id };", time_limit_seconds=0.3)
    looping = hook("while (true) {}", time_limit_seconds=1.0)

    answers = await asyncio.gather(*(echo.run(hook_input({"user": {"id": u}})) for u in "abc"))
    hogging = asyncio.create_task(looping.run(hook_input()))
    await asyncio.sleep(0.1)
    with pytest.raises(HookFailed, match="time limit"):
        await echo.run(hook_input({"user": {"id": "d"}}))
    with pytest.raises(HookFailed):
        await hogging

    assert answers == [{"who": u} for u in "abc"]
