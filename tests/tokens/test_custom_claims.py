"""Custom claims hooks through the real pipeline: sources, merge rules, failures, preview."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import answer_json, assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.introspection_config import INTROSPECTION_CONFIG
from tests.oidc import (
    ALICE_PASSWORD,
    OIDC_CONFIG,
    REDIRECT_URI,
    authorize_params,
    query_of,
    sign_in,
)
from tests.tokens.claims_hooks import LOGTO_STYLE_SCRIPT, get_custom_jwt_claims
from tokensmith.stores.sql.claim_scripts import SqlClaimScriptStore
from tokensmith.stores.sql.engine import create_engine
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.tokens.custom_claims import SCRIPT_RECHECK_SECONDS, CustomClaimsService
from tokensmith.tokens.hooks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

LEGACY = basic_auth("legacy", "legacy-secret")
MACHINE = basic_auth("machine", "machine-secret")
WEBHOOK_SECRET = "whsec-test"
ALICE = {
    **OIDC_CONFIG["users"][0],
    "claims": {"given_name": "Alice", "roles": ["admin", "editor"], "plan": "pro"},
}
CONFIG = {
    **INTROSPECTION_CONFIG,
    "users": [ALICE, OIDC_CONFIG["users"][1]],
}
ENVIRONMENT = {"TENANT": "acme"}
EXPECTED = {"roles": ["admin", "editor"], "plan": "pro", "tenant": "acme"}


def hooks(**kinds):
    return {"environment": ENVIRONMENT, **kinds}


def python(name: str) -> dict[str, str]:
    return {"callable": f"tests.tokens.claims_hooks:{name}"}


class _Receiver(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert verify_signature(
            WEBHOOK_SECRET, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER]
        )
        payload = json.loads(body)
        claims = get_custom_jwt_claims(payload["token"], payload["context"], ENVIRONMENT, None)
        answer_json(self, json.dumps({"claims": claims}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = _Receiver(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/claims"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def password_token(client, scope="openid api:read", username="alice", password=ALICE_PASSWORD):
    return client.post(
        "/token",
        data={"grant_type": "password", "username": username, "password": password, "scope": scope},
        headers=LEGACY,
    )


def on_database(client, action) -> None:
    """Run ``action(engine)`` against the test server's own database."""

    async def run() -> None:
        engine = create_engine(client.database_url)
        try:
            await action(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def store_script(client, source: str) -> None:
    on_database(client, lambda engine: SqlClaimScriptStore(engine).set("user", source))


@pytest.fixture
def make(make_client, make_settings):
    def build(services=None, config=CONFIG, **custom_claims):
        client = make_client(services, **config, custom_claims=hooks(**custom_claims))
        client.database_url = make_settings().database
        return client

    return build


@pytest.mark.parametrize("source", ["python", "webhook", "script"])
def test_each_source_adds_the_same_claims_to_jwt_and_opaque_tokens(make, receiver, source):
    if source == "python":
        client = make(user=python("get_custom_jwt_claims"))
    elif source == "webhook":
        client = make(user={"webhook_url": receiver, "webhook_secret": WEBHOOK_SECRET})
    else:
        client = make()
        store_script(client, LOGTO_STYLE_SCRIPT)
    jwt_response = password_token(client, scope="openid api:read")
    assert jwt_response.status_code == 200, jwt_response.text
    _, claims = decode_jwt_unverified(jwt_response.json()["access_token"])
    assert {name: claims[name] for name in EXPECTED} == EXPECTED
    opaque = password_token(client, scope="openid profile").json()["access_token"]
    assert "." not in opaque
    introspected = client.post("/introspect", data={"token": opaque}, headers=LEGACY).json()
    assert introspected["active"] is True
    assert {name: introspected[name] for name in EXPECTED} == EXPECTED


def test_hook_cannot_override_built_in_claims_and_the_drop_is_logged_once(make, caplog):
    client = make(user=python("overriding_claims"))
    with caplog.at_level(logging.WARNING, logger="tokensmith.tokens.custom_claims"):
        first = password_token(client)
        password_token(client)
    _, claims = decode_jwt_unverified(first.json()["access_token"])
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["sub"] != "evil"
    assert claims["aud"] != "evil"
    assert claims["scope"] == "openid api:read"
    assert claims["client_id"] == "legacy"
    assert claims["jti"] != "evil"
    assert isinstance(claims["exp"], int)
    assert claims["extra"] == "kept"
    drops = [r.getMessage() for r in caplog.records if "was dropped" in r.getMessage()]
    assert len(drops) == 7  # one per claim, not one per request
    assert any("'iss'" in message for message in drops)


def test_hook_receives_a_copy_and_cannot_mutate_the_token(make):
    client = make(user=python("mutating_claims"))
    _, claims = decode_jwt_unverified(password_token(client).json()["access_token"])
    assert claims["seen_iss"] == "https://evil.example"
    assert claims["iss"] == "http://127.0.0.1:8000"


def test_deny_access_refuses_with_access_denied(make):
    blocked = {**ALICE, "claims": {**ALICE["claims"], "blocked": True}}
    client = make(config={**CONFIG, "users": [blocked]}, user=python("get_custom_jwt_claims"))
    body = assert_oauth_error(password_token(client), "access_denied", 400)
    assert body["error_description"] == "This account is blocked."


def test_deny_access_from_a_script_refuses_with_its_message(make):
    blocked = {**ALICE, "claims": {**ALICE["claims"], "blocked": True}}
    client = make(config={**CONFIG, "users": [blocked]})
    store_script(client, LOGTO_STYLE_SCRIPT)
    body = assert_oauth_error(password_token(client), "access_denied", 400)
    assert body["error_description"] == "This account is blocked."


@pytest.mark.parametrize(
    "hook",
    [
        "raising_claims",
        "slow_claims",
        "slow_async_claims",
        "unserialisable_claims",
        "oversize_claims",
        "not_a_dict",
    ],
)
def test_failing_hooks_fail_closed(make_client, hook):
    client = make_client(**CONFIG, custom_claims=hooks(user=python(hook), timeout_seconds=0.5))
    assert_oauth_error(password_token(client), "access_denied", 400)


def test_failure_policy_can_answer_server_error(make_client):
    client = make_client(
        **CONFIG,
        custom_claims=hooks(user=python("raising_claims"), on_failure="server_error"),
    )
    assert_oauth_error(password_token(client), "server_error", 500)


def test_machine_hook_is_separate_from_the_user_hook(make):
    client = make(user=python("get_custom_jwt_claims"), machine=python("machine_claims"))
    response = client.post("/token", data={"grant_type": "client_credentials"}, headers=MACHINE)
    _, claims = decode_jwt_unverified(response.json()["access_token"])
    assert claims["caller_app"] == "machine"
    assert claims["grant_type"] == "client_credentials"
    assert "roles" not in claims


def test_id_token_hook_adds_claims_to_id_tokens_only(make):
    client = make(id_token=python("id_token_claims"))
    flow = authorize_params()
    code = query_of(sign_in(client, flow).headers["location"])["code"]
    tokens = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=basic_auth("web-app", "web-secret"),
    ).json()
    _, id_claims = decode_jwt_unverified(tokens["id_token"])
    _, access = decode_jwt_unverified(tokens["access_token"])
    assert id_claims["display_name"] == "Alice (via hook)"
    assert "display_name" not in access


def test_hook_runs_again_at_refresh_so_claims_follow_the_user(make):
    client = make(user=python("get_custom_jwt_claims"))
    first = password_token(client, scope="openid offline_access api:read").json()
    _, before = decode_jwt_unverified(first["access_token"])
    assert before["plan"] == "pro"

    async def downgrade(engine) -> None:
        store = SqlUserStore(engine)
        alice = await store.find_user_by_username("alice")
        await store.update_profile(replace(alice, custom_data={"plan": "free"}))

    on_database(client, downgrade)
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=LEGACY,
    )
    assert refreshed.status_code == 200, refreshed.text
    _, after = decode_jwt_unverified(refreshed.json()["access_token"])
    assert after["plan"] == "free"


def test_a_stored_script_takes_effect_without_a_restart(make):
    client = make(user=python("get_custom_jwt_claims"))
    _, claims = decode_jwt_unverified(password_token(client).json()["access_token"])
    assert claims["plan"] == "pro"
    store_script(
        client,
        LOGTO_STYLE_SCRIPT.replace(
            "plan: user?.customData?.plan ?? 'free'", "plan: 'from-the-new-script'"
        ),
    )
    time.sleep(SCRIPT_RECHECK_SECONDS + 0.2)
    _, claims = decode_jwt_unverified(password_token(client).json()["access_token"])
    assert claims["plan"] == "from-the-new-script"
    on_database(client, lambda engine: SqlClaimScriptStore(engine).remove("user"))
    time.sleep(SCRIPT_RECHECK_SECONDS + 0.2)
    _, claims = decode_jwt_unverified(password_token(client).json()["access_token"])
    assert claims["plan"] == "pro"  # back to the configured Python hook


async def test_stored_scripts_are_looked_up_once_per_second_not_per_request(engine, make_settings):
    store = SqlClaimScriptStore(engine)
    await store.set("user", LOGTO_STYLE_SCRIPT)
    lookups = 0
    real_get = store.get

    async def counting_get(kind: str):
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.05)  # a slow database, so the requests overlap
        return await real_get(kind)

    store.get = counting_get  # type: ignore[method-assign]
    service = CustomClaimsService(make_settings(), store)
    await asyncio.gather(*(service.hook_for("user") for _ in range(30)))
    assert lookups == 1


async def test_requests_during_the_first_load_wait_for_the_script(engine, make_settings):
    store = SqlClaimScriptStore(engine)
    await store.set("user", LOGTO_STYLE_SCRIPT)
    service = CustomClaimsService(make_settings(), store)
    found = await asyncio.gather(*(service.hook_for("user") for _ in range(10)))
    assert all(hook is not None and hook[0] == "stored script (user)" for hook in found)
