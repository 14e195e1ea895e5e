"""Audit events: JSON fields per outcome, and never a credential."""

from __future__ import annotations

import io
import logging
import time

import orjson
import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.grants.test_device_code import CONFIG as DEVICE_CONFIG
from tests.grants.test_device_code import start
from tests.helpers import basic_auth
from tests.introspection_config import INTROSPECTION_CONFIG
from tests.oidc import (
    ALICE_PASSWORD,
    REDIRECT_URI,
    authorize_params,
    hidden_fields,
    query_of,
    sign_in,
)
from tests.tokens.claims_hooks import LOGTO_STYLE_SCRIPT
from tokensmith import audit as audit_module
from tokensmith.app import create_app
from tokensmith.audit import AUDIT_LOGGER_NAME, MAX_VALUE_CHARS, audit_event
from tokensmith.line_log import BatchedLineHandler, LineFormatter
from tokensmith.logging_setup import log_config

WEB = basic_auth("web-app", "web-secret")
OPS = {
    "client_id": "ops",
    "client_secret": "ops-secret",
    "grant_types": ["client_credentials"],
    "scopes": ["tokensmith:admin"],
}
FORBIDDEN = [
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "code",
    "device_code",
    "secret",
    "client_secret",
    "password",
    "client_assertion",
    "assertion",
    "subject_token",
    "actor_token",
]


@pytest.fixture
def audit(caplog):
    """The audit events logged so far, decoded; each record must be one JSON line."""
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER_NAME)

    def events(name: str | None = None) -> list[dict]:
        found = []
        for record in caplog.records:
            if record.name == AUDIT_LOGGER_NAME:
                line = record.getMessage()
                assert "\n" not in line
                found.append(orjson.loads(line))
        return [e for e in found if name is None or e["event"] == name]

    return events


def a_request(host: str = "203.0.113.7") -> Request:
    return Request({"type": "http", "method": "POST", "headers": [], "client": (host, 5000)})


def test_an_event_is_one_json_object_with_who_what_and_outcome(audit):
    audit_event(
        "token.issued",
        "success",
        request=a_request(),
        client_id="web-app",
        grant_type="authorization_code",
        subject="sub-1",
        scope="openid",
        issued=["access_token", "id_token"],
        error=None,
    )
    [event] = audit()
    assert isinstance(event.pop("time"), float)
    assert event == {
        "event": "token.issued",
        "outcome": "success",
        "source_address": "203.0.113.7",
        "client_id": "web-app",
        "grant_type": "authorization_code",
        "subject": "sub-1",
        "scope": "openid",
        "issued": ["access_token", "id_token"],
    }


@pytest.mark.parametrize("name", FORBIDDEN)
def test_a_field_named_after_a_credential_is_refused(audit, name):
    with pytest.raises(ValueError, match="never carry credentials"):
        audit_event("token.issued", "success", **{name: "value"})
    assert audit() == []


def test_credential_fields_are_refused_even_when_nobody_listens():
    logger = logging.getLogger(AUDIT_LOGGER_NAME)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with pytest.raises(ValueError, match="never carry credentials"):
            audit_event("login.failed", "failure", password="hunter2")
    finally:
        logger.setLevel(level)


def test_request_supplied_values_are_cut_short(audit):
    audit_event("login.failed", "failure", username="u" * 10_000, roles=["r" * 10_000])
    [event] = audit()
    assert len(event["username"]) == MAX_VALUE_CHARS + 3
    assert event["roles"] == ["r" * MAX_VALUE_CHARS]


def test_serve_logs_audit_events_as_bare_json_lines_on_stdout():
    config = log_config(audit=True)
    logger = config["loggers"][AUDIT_LOGGER_NAME]
    assert logger == {"handlers": ["audit"], "level": "INFO", "propagate": False}
    assert config["formatters"]["audit"] == {"()": LineFormatter}
    assert config["handlers"]["audit"]["stream"] == "ext://sys.stdout"
    assert config["handlers"]["audit"]["()"] is BatchedLineHandler
    assert "uvicorn" in config["loggers"]  # uvicorn's own logging is kept
    assert log_config(audit=False)["loggers"][AUDIT_LOGGER_NAME]["level"] == "WARNING"


@pytest.fixture
def served_audit_log(monkeypatch):
    """The audit logger as ``tokensmith serve`` sets it up, writing into a StringIO."""
    stream = io.StringIO()
    handler = BatchedLineHandler(stream, interval=3600)
    handler.setFormatter(LineFormatter())
    # Not registered with logging: pytest attaches its capture handlers to every
    # registered logger that does not propagate, which would make it no longer alone.
    logger = logging.Logger(AUDIT_LOGGER_NAME, logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    monkeypatch.setattr(audit_module, "audit_logger", logger)
    yield stream, handler
    handler.close()


def test_an_event_reaches_the_served_log_without_a_log_record(served_audit_log, monkeypatch):
    stream, handler = served_audit_log

    def no_records(*_args, **_kwargs):
        raise AssertionError("a LogRecord was built")

    monkeypatch.setattr(logging.Logger, "makeRecord", no_records)
    audit_event("login.failed", "failure", username="alice", page="login")
    handler.flush()
    [event] = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert event["event"] == "login.failed"
    assert event["username"] == "alice"


def test_a_second_listener_gets_every_event_as_a_record(served_audit_log):
    stream, handler = served_audit_log
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append  # type: ignore[method-assign]
    audit_module.audit_logger.addHandler(other)
    audit_event("logout", "success", subject="alice")
    handler.flush()
    [record] = seen
    assert orjson.loads(record.getMessage())["event"] == "logout"
    assert orjson.loads(stream.getvalue())["event"] == "logout"


def test_a_handler_with_another_format_or_a_filter_gets_records(served_audit_log):
    stream, handler = served_audit_log
    assert handler.takes_lines(logging.INFO)
    handler.setFormatter(logging.Formatter("audit: %(message)s"))
    assert not handler.takes_lines(logging.INFO)
    audit_event("logout", "success", subject="alice")
    handler.flush()
    assert stream.getvalue().startswith('audit: {"time":')
    handler.setFormatter(LineFormatter())
    handler.addFilter(lambda record: False)
    assert not handler.takes_lines(logging.INFO)
    audit_event("logout", "success", subject="bob")
    handler.flush()
    assert "bob" not in stream.getvalue()  # the filter saw the record and dropped it
    handler.filters.clear()
    handler.setLevel(logging.WARNING)
    assert not handler.takes_lines(logging.INFO)


def batched_logger(stream: io.StringIO, **options) -> tuple[logging.Logger, BatchedLineHandler]:
    handler = BatchedLineHandler(stream, **options)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.Logger("tokensmith.audit.test")  # not registered: no global state
    logger.addHandler(handler)
    return logger, handler


def test_batched_lines_are_written_together_once_the_batch_is_full():
    stream = io.StringIO()
    logger, handler = batched_logger(stream, interval=3600, max_lines=3)
    logger.warning('{"n":1}')
    logger.warning('{"n":2}')
    assert stream.getvalue() == ""
    logger.warning('{"n":3}')
    assert stream.getvalue() == '{"n":1}\n{"n":2}\n{"n":3}\n'
    logger.warning('{"n":4}')
    handler.close()  # logging.shutdown does this at exit
    assert stream.getvalue().splitlines()[-1] == '{"n":4}'
    handler.close()  # again, as logging.shutdown does for a handler closed earlier


def test_an_idle_server_still_writes_its_last_lines_soon():
    stream = io.StringIO()
    logger, handler = batched_logger(stream, interval=0.05)
    try:
        logger.warning('{"n":1}')
        deadline = time.monotonic() + 10
        while stream.getvalue() == "" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.getvalue() == '{"n":1}\n'
    finally:
        handler.close()


def test_the_app_writes_out_the_last_batch_when_it_shuts_down(make_settings):
    # uvicorn re-raises SIGTERM after shutdown: no atexit, no logging.shutdown.
    stream = io.StringIO()
    handler = BatchedLineHandler(stream, interval=3600)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(AUDIT_LOGGER_NAME)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with TestClient(create_app(make_settings())) as client:
            answer = client.post("/revoke", data={"token": "unknown"}, headers=WEB)
            assert answer.status_code == 401  # refused: no such client in these settings
            assert stream.getvalue() == ""  # still in the batch
        [event] = [orjson.loads(line) for line in stream.getvalue().splitlines()]
        assert event["event"] == "token.revocation_refused"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


@pytest.fixture
def server(make_client):
    config = {**INTROSPECTION_CONFIG, "clients": [*INTROSPECTION_CONFIG["clients"], OPS]}
    return make_client(**config)


def test_token_issued_and_refused_at_the_token_endpoint(make_client, audit):
    client = make_client()
    ok = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
    )
    bad = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "api:read"},
        headers=basic_auth(CLIENT_ID, "wrong-secret"),
    )
    assert (ok.status_code, bad.status_code) == (200, 401)
    [issued] = audit("token.issued")
    assert issued["client_id"] == CLIENT_ID
    assert issued["grant_type"] == "client_credentials"
    assert issued["scope"] == "api:read api:write"
    assert issued["issued"] == ["access_token"]
    assert issued["source_address"] == "testclient"
    assert "subject" not in issued
    [refused] = audit("token.refused")
    assert refused | {"time": 0} == {
        "time": 0,
        "event": "token.refused",
        "outcome": "failure",
        "source_address": "testclient",
        "client_id": CLIENT_ID,
        "grant_type": "client_credentials",
        "error": "invalid_client",
        "status": 401,
    }
    logged = orjson.dumps(audit()).decode()
    assert ok.json()["access_token"] not in logged
    assert CLIENT_SECRET not in logged
    assert "wrong-secret" not in logged


def test_a_client_id_posted_in_the_form_is_named_in_the_refusal(make_client, audit):
    client = make_client()
    client.post("/token", data={"grant_type": "password", "client_id": "post-client"})
    [refused] = audit("token.refused")
    assert (refused["client_id"], refused["grant_type"]) == ("post-client", "password")


def test_login_failure_success_consent_tokens_and_revocation(server, audit):
    flow = authorize_params(scope="openid profile offline_access")
    failed = sign_in(server, flow, password="not-the-password")
    assert failed.status_code == 401
    location = sign_in(server, flow).headers["location"]
    code = query_of(location)["code"]
    tokens = server.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=WEB,
    ).json()
    revoked = server.post("/revoke", data={"token": tokens["refresh_token"]}, headers=WEB)
    assert revoked.status_code == 200

    [login_failed] = audit("login.failed")
    assert login_failed["username"] == "alice"
    assert login_failed["reason"] == "invalid_credentials"
    assert login_failed["client_id"] == "web-app"
    [login] = audit("login.succeeded")
    subject = login["subject"]
    assert (login["username"], login["client_id"], login["page"]) == ("alice", "web-app", "login")
    [consent] = audit("consent.granted")
    assert (consent["subject"], consent["client_id"]) == (subject, "web-app")
    [issued] = audit("token.issued")
    assert issued["subject"] == subject
    assert issued["grant_type"] == "authorization_code"
    assert issued["issued"] == ["access_token", "refresh_token", "id_token"]
    [revocation] = audit("token.revoked")
    assert revocation["outcome"] == "success"
    assert revocation["token_type"] == "refresh_token"
    assert revocation["family"] is True
    assert revocation["subject"] == subject

    logged = orjson.dumps(audit()).decode()
    credentials = [tokens[k] for k in ("access_token", "refresh_token", "id_token")]
    for value in (ALICE_PASSWORD, "not-the-password", "web-secret", code, *credentials):
        assert value not in logged


def test_revocation_refusals_and_unknown_tokens_are_audited(server, audit):
    server.post("/revoke", data={"token": "x" * 40}, headers=basic_auth("web-app", "nope"))
    server.post("/revoke", data={"token": "y" * 40}, headers=WEB)
    [refused] = audit("token.revocation_refused")
    assert (refused["client_id"], refused["error"]) == ("web-app", "invalid_client")
    [unknown] = audit("token.revoked")
    assert unknown["outcome"] == "unknown_token"


def test_admin_script_changes_name_the_admin(server, audit):
    token = server.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic_auth("ops", "ops-secret")
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    script = {"source": LOGTO_STYLE_SCRIPT}
    put = server.put("/admin/claims/scripts/user", json=script, headers=headers)
    assert put.status_code == 204, put.text
    assert server.delete("/admin/claims/scripts/user", headers=headers).status_code == 204
    saved, deleted = audit("admin.claims_script.saved"), audit("admin.claims_script.deleted")
    assert [(e["actor"], e["kind"]) for e in saved + deleted] == [("ops", "user"), ("ops", "user")]


def test_logout_names_the_user_whose_session_ended(server, audit):
    sign_in(server, authorize_params())
    [login] = audit("login.succeeded")
    page = server.get("/logout")
    server.post("/logout", data=hidden_fields(page.text), follow_redirects=False)
    [logout] = audit("logout")
    assert (logout["outcome"], logout["subject"]) == ("success", login["subject"])


def test_sign_in_on_the_device_page_is_audited(make_client, audit):
    server = make_client(**DEVICE_CONFIG)
    started = start(server)
    for password in ("wrong", ALICE_PASSWORD):
        page = server.get("/device")
        form = {**hidden_fields(page.text), "user_code": started["user_code"]}
        server.post("/device", data={**form, "username": "alice", "password": password})
    [failed] = audit("login.failed")
    [succeeded] = audit("login.succeeded")
    assert (failed["page"], failed["client_id"], failed["reason"]) == (
        "device",
        "tv",
        "invalid_credentials",
    )
    assert (succeeded["page"], succeeded["client_id"]) == ("device", "tv")
    assert started["device_code"] not in orjson.dumps(audit()).decode()
