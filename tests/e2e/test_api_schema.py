"""Schemathesis against the running server: every operation of /openapi.json, admin API and
protocol endpoints, with no 5xx and no answer the document does not describe.

Bounded for CI: a few derandomized examples per operation, no shrinking, one server.
"""

from __future__ import annotations

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e

ADMIN_ID, ADMIN_SECRET = "ops", "ops-secret-for-the-schema-test"
CONFIG = f"""
create_demo_client = false
password_grant_enabled = true  # only to get a user's token for /userinfo
audit_log = false  # the server's stdout is a pipe read only at the end: keep it small

[rate_limits]
enabled = false

[[clients]]
client_id = "{ADMIN_ID}"
client_secret = "{ADMIN_SECRET}"
# authorization_code and one redirect_uri: a push to /par without redirect_uri and
# openid is then validated all the way, so its parameters are fuzzed, not just refused.
grant_types = ["client_credentials", "password", "authorization_code"]
redirect_uris = ["https://app.example.test/callback"]
scopes = ["tokensmith:admin", "api:read", "openid", "profile", "email"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read", "api:write"]

[[users]]
username = "alice"
password = "correct horse battery staple"
email = "alice@example.test"
claims = {{ given_name = "Alice" }}
"""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25
CLIENT_ENDPOINTS = (
    "/token",
    "/introspect",
    "/revoke",
    "/device_authorization",
    "/backchannel",
    "/par",
)


def admin_token(base_url: str) -> str:
    response = httpx2.post(
        f"{base_url}/token",
        data={"grant_type": "client_credentials", "scope": "tokensmith:admin"},
        auth=(ADMIN_ID, ADMIN_SECRET),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def user_token(base_url: str) -> str:
    form = {
        "grant_type": "password",
        "username": "alice",
        "password": "correct horse battery staple",
        "scope": "openid profile email",
    }
    response = httpx2.post(f"{base_url}/token", data=form, auth=(ADMIN_ID, ADMIN_SECRET))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def credentials_for(path: str, admin: str, user: str) -> dict[str, str]:
    """What each operation authenticates with: the client's Basic, a user's or the admin token."""
    if path.startswith(CLIENT_ENDPOINTS):
        return basic_auth(ADMIN_ID, ADMIN_SECRET)
    return {"Authorization": f"Bearer {user if path == '/userinfo' else admin}"}


def run_operation(operation, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    check()


def test_every_operation_conforms_to_the_openapi_document(server_factory):
    server = server_factory(CONFIG)
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    admin, user = admin_token(server.base_url), user_token(server.base_url)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        headers = credentials_for(operation.path, admin, user)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                run_operation(operation, mode, server.base_url, headers)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as exc:  # one report names every failure
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    if failures:
        log = server.stop().splitlines()[-40:]
        raise AssertionError("\n\n".join([*failures, "server output (end):", *log]))
