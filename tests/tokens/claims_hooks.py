"""Python custom-claims hooks for the tests, importable by string as tests.tokens.claims_hooks."""

from __future__ import annotations

import asyncio
import time

LOGTO_STYLE_SCRIPT = """
/**
 * From Logto's documentation style: put the user's roles and a custom-data field
 * into the access token, and refuse suspended users.
 */
const getCustomJwtClaims = async ({ token, context, environmentVariables, api }) => {
  const { user } = context;
  if (user?.customData?.blocked) {
    api.denyAccess('This account is blocked.');
  }
  return {
    roles: (user?.roles ?? []).map((role) => role.name),
    plan: user?.customData?.plan ?? 'free',
    tenant: environmentVariables.TENANT,
  };
};
"""


def get_custom_jwt_claims(token, context, environment, api):
    """The same logic as LOGTO_STYLE_SCRIPT, in Python."""
    user = context.get("user") or {}
    if (user.get("customData") or {}).get("blocked"):
        api.deny_access("This account is blocked.")
    return {
        "roles": [role["name"] for role in user.get("roles", [])],
        "plan": (user.get("customData") or {}).get("plan", "free"),
        "tenant": environment.get("TENANT"),
    }


async def machine_claims(token, context, environment, api):
    return {"caller_app": context["application"]["id"], "grant_type": context["grant"]["type"]}


def id_token_claims(token, context, environment, api):
    return {"display_name": f"{context['user']['profile'].get('givenName', '?')} (via hook)"}


def overriding_claims(token, context, environment, api):
    names = ("iss", "sub", "aud", "exp", "scope", "client_id", "jti")
    return {**{name: "evil" for name in names}, "extra": "kept"}


def raising_claims(token, context, environment, api):
    raise RuntimeError("the CRM is down")


def slow_claims(token, context, environment, api):
    time.sleep(5)
    return {}


async def slow_async_claims(token, context, environment, api):
    await asyncio.sleep(5)
    return {}


def unserialisable_claims(token, context, environment, api):
    return {"when": object()}


def oversize_claims(token, context, environment, api):
    return {"blob": "x" * 10_000}


def not_a_dict(token, context, environment, api):
    return ["roles"]


def mutating_claims(token, context, environment, api):
    token["iss"] = "https://evil.example"
    context["user"]["id"] = "someone-else"
    return {"seen_iss": token["iss"]}


RECORDED: list[tuple[dict, dict]] = []
"""(token, context) of every recording_claims call, for tests that inspect what a hook sees."""


def recording_claims(token, context, environment, api):
    RECORDED.append((token, context))
    return {}
