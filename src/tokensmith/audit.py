"""Audit events: one JSON object per security-relevant outcome.

Operators feed these to their SIEM, so each event says who (client, subject,
admin actor, source address), what (the event name, the grant) and the outcome,
and never carries a credential: a field whose name says it holds a secret or a
token is refused outright, so a careless call fails in tests instead of leaking
in production.

Events go to the ``tokensmith.audit`` logger at INFO; ``tokensmith serve``
prints them as one JSON object per line on stdout (``audit_log = false`` turns
that off). An application embedding ``create_app`` routes that logger wherever
it likes. When nothing listens at INFO, an event costs one level check.

Event names: ``token.issued``, ``token.refused``, ``token.revoked``,
``token.revocation_refused``, ``login.succeeded``, ``login.failed``,
``logout``, ``consent.granted``, ``consent.denied``, ``device.approved``,
``device.denied``, ``rate_limit.exceeded``, ``admin.*`` (admin API changes,
with ``actor=admin_actor(request)``) and ``authorization_request.pushed``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request

from tokensmith.endpoints._forms import form_read_earlier
from tokensmith.line_log import BatchedLineHandler
from tokensmith.ratelimit.presented import basic_client_id

if TYPE_CHECKING:
    from tokensmith.errors import OAuthError
    from tokensmith.models.requests import ValidatedTokenRequest
    from tokensmith.models.responses import TokenResponse

__all__ = [
    "AUDIT_LOGGER_NAME",
    "AuditValue",
    "admin_actor",
    "audit_event",
    "audit_logger",
    "audit_login",
    "audit_refusal",
    "audit_token_issued",
    "audit_token_refused",
    "flush_audit_log",
    "set_admin_actor",
]

AUDIT_LOGGER_NAME = "tokensmith.audit"
audit_logger = logging.getLogger(AUDIT_LOGGER_NAME)

_FORBIDDEN_FIELDS = frozenset(
    {
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
    }
)
_ADMIN_ACTOR = "tokensmith.admin_actor"
MAX_VALUE_CHARS = 200
"""Request-supplied values (a presented client_id, a username) are cut to this length."""

AuditValue = str | int | bool | list[str] | None


def audit_event(
    event: str,
    outcome: str,
    *,
    request: Request | None = None,
    **fields: AuditValue,
) -> None:
    """Log ``event`` (e.g. ``token.issued``) with ``outcome`` (``success``/``failure``).

    Fields that are None are left out. The source address comes from the request.
    Raises ValueError for a field named after a credential, even when nobody listens.
    """
    if not _FORBIDDEN_FIELDS.isdisjoint(fields):
        leaked = sorted(_FORBIDDEN_FIELDS.intersection(fields))
        raise ValueError(f"audit events never carry credentials: {leaked}")
    if not audit_logger.isEnabledFor(logging.INFO):
        return
    record: dict[str, Any] = {"time": round(time.time(), 3), "event": event, "outcome": outcome}
    if request is not None:
        client = request.scope.get("client")
        if client:
            record["source_address"] = client[0]
    for name, value in fields.items():
        if value is not None:
            record[name] = _capped(value)
    line = orjson.dumps(record).decode()
    handler = _sole_line_handler()
    if handler is not None:
        handler.emit_line(line)
        return
    # makeRecord + handle is logger.info without the stack walk that finds
    # the caller's file and line, which an audit line does not use.
    audit_logger.handle(
        audit_logger.makeRecord(AUDIT_LOGGER_NAME, logging.INFO, __name__, 0, line, (), None)
    )


def _sole_line_handler() -> BatchedLineHandler | None:
    """The audit logger's only listener, when it writes each event as its line and no more.

    Then the line goes to it without a LogRecord (``line_log.py``); with any
    other handler, a filter, or propagation to the root logger, events take
    the ordinary path, so whatever else listens sees every record.
    """
    handlers = audit_logger.handlers
    if len(handlers) != 1 or audit_logger.propagate or audit_logger.filters:
        return None
    handler = handlers[0]
    # The exact class: a subclass may emit or handle records its own way.
    if type(handler) is BatchedLineHandler and handler.takes_lines(logging.INFO):
        return handler
    return None


def audit_token_issued(
    request: Request, validated: ValidatedTokenRequest, response: TokenResponse
) -> None:
    """``token.issued``: who got which kinds of token, by which grant, for what scope."""
    if not audit_logger.isEnabledFor(logging.INFO):
        return
    issued = [
        kind
        for kind, value in (
            ("access_token", response.access_token),
            ("refresh_token", response.refresh_token),
            ("id_token", response.identity_token),
        )
        if value is not None
    ]
    audit_event(
        "token.issued",
        "success",
        request=request,
        client_id=validated.client.client_id,
        grant_type=validated.grant_type,
        subject=validated.subject_id,
        scope=response.scope if response.scope is not None else " ".join(validated.scopes),
        issued=issued,
    )


def audit_token_refused(request: Request, error: OAuthError) -> None:
    """``token.refused``: the error code, and the client and grant the request named."""
    audit_refusal("token.refused", request, error, grant_type="grant_type")


def audit_refusal(event: str, request: Request, error: OAuthError, **form_fields: str) -> None:
    """``event`` with outcome ``failure`` for a protocol error at a client endpoint.

    ``client_id`` is the one the request presented (HTTP Basic, else the
    form): when the error is ``invalid_client`` nobody was authenticated, so
    it says whom the caller claimed to be. ``form_fields`` maps audit field
    names to the form fields to copy (e.g. ``grant_type="grant_type"``); the
    form is the one the endpoint already read, never read again here.
    """
    if not audit_logger.isEnabledFor(logging.INFO):
        return
    form = dict(form_read_earlier(request) or ())
    audit_event(
        event,
        "failure",
        request=request,
        client_id=basic_client_id(request.headers) or form.get("client_id"),
        error=error.error,
        status=error.status_code,
        **{name: form.get(field) for name, field in form_fields.items()},
    )


def audit_login(
    request: Request,
    username: str,
    client_id: str | None,
    *,
    page: str,
    subject: str | None = None,
    failure: str | None = None,
) -> None:
    """``login.succeeded`` (with the subject) or ``login.failed`` (with why).

    ``username`` is what was typed, so failures show guessing across names;
    ``page`` says which sign-in form (``login``, ``device``) it came through.
    """
    if failure is None:
        audit_event(
            "login.succeeded",
            "success",
            request=request,
            username=username,
            subject=subject,
            client_id=client_id,
            page=page,
        )
    else:
        audit_event(
            "login.failed",
            "failure",
            request=request,
            username=username,
            client_id=client_id,
            page=page,
            reason=failure,
        )


def flush_audit_log() -> None:
    """Write out what the audit logger's handlers still hold.

    The app calls this when it shuts down. ``logging.shutdown`` would do it at
    exit, but uvicorn ends a process stopped by a signal by re-raising that
    signal after shutdown, which kills it without running ``atexit``: the last
    batch of a ``BatchedLineHandler`` (the events of the final requests) would
    be lost.
    """
    for handler in audit_logger.handlers:
        handler.flush()


def set_admin_actor(request: Request, claims: dict[str, Any]) -> None:
    """Remember who holds the admin token of this request, for ``admin_actor``."""
    actor = claims.get("sub") or claims.get("client_id")
    request.scope[_ADMIN_ACTOR] = str(actor) if actor is not None else None


def admin_actor(request: Request) -> str | None:
    """The subject (or, for a client_credentials token, the client) of the admin token.

    Admin API handlers pass it as ``actor=`` to ``audit_event``.
    """
    actor = request.scope.get(_ADMIN_ACTOR)
    return actor if isinstance(actor, str) else None


def _capped(value: str | int | bool | list[str]) -> str | int | bool | list[str]:
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "..."
    if isinstance(value, list):
        return [item[:MAX_VALUE_CHARS] for item in value]
    return value
