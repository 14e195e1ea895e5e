"""Reading an application/x-www-form-urlencoded body safely.

The body is read with a hard size cap before it is parsed, parsed by the
standard library (a body seen a moment ago and holding no credential is not
parsed again: see ``_recent``), and checked for repeated fields (RFC 6749 section 3.2:
"Request and response parameters MUST NOT be included more than once").

The outcome is kept in the ASGI scope, so a second reader of the same request
(the rate limiter looks for client_id before the endpoint runs) gets the same
fields, or the same error, without reading or parsing the body again.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from tokensmith.errors import InvalidRequest, RequestTooLarge, printable

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 100
MEMO_ENTRIES = 256
MEMO_MAX_BYTES = 1024
"""Bodies up to this size are remembered: 256 entries hold at most 256 KiB of bodies."""
MEMO_FIELDS = frozenset(
    {"grant_type", "scope", "resource", "audience", "client_id", "requested_token_type"}
)
"""The fields a remembered body may set: none of them is a credential."""
_READ = "tokensmith.form"


async def read_form(request: Request, max_bytes: int) -> list[tuple[str, str]]:
    """The form's fields in order, blanks dropped; raises InvalidRequest on any defect."""
    read: tuple[int, list[tuple[str, str]]] | InvalidRequest | None = request.scope.get(_READ)
    if read is None:
        try:
            read = await _read_form(request, max_bytes)
        except InvalidRequest as exc:
            read = exc
        request.scope[_READ] = read
    if isinstance(read, InvalidRequest):
        raise read
    size, fields = read
    if size > max_bytes:
        raise RequestTooLarge(f"the request body is over {max_bytes} bytes")
    return fields


def form_read_earlier(request: Request) -> list[tuple[str, str]] | None:
    """The fields ``read_form`` already read from this request; never reads the body."""
    read = request.scope.get(_READ)
    return read[1] if isinstance(read, tuple) else None


async def _read_form(request: Request, max_bytes: int) -> tuple[int, list[tuple[str, str]]]:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise InvalidRequest(f"the request body must be {FORM_MEDIA_TYPE}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestTooLarge(f"the request body is over {max_bytes} bytes")
    body = await _read_body(request, max_bytes)
    try:
        fields = _fields_of(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the request body is not valid form encoding") from None
    return len(body), list(fields)


_Fields = tuple[tuple[str, str], ...]

_recent: dict[bytes, _Fields] = {}
"""Bodies parsed a moment ago and their fields: only bodies that carry no credential.

A client asking for a client_credentials token sends the same body every time
(grant type, scope, resource; its credentials are in the Authorization
header), so on a busy server most token requests repeat a body parsed a moment
ago: parsing it again was 6% of such a request's interpreter time, and the
same string objects coming back (their hashes already computed) make the
lookups after it cheaper too. A body is kept only if every field it sets is in
``MEMO_FIELDS``: a secret, a password, a code, a token or an assertion is never
held here beyond its request. At most ``MEMO_ENTRIES`` bodies of at most
``MEMO_MAX_BYTES``, the oldest going first; a parse error is not kept.
"""


def _fields_of(body: bytes) -> _Fields:
    fields = _recent.get(body)
    if fields is not None:
        return fields
    fields = _parse(body)
    if len(body) <= MEMO_MAX_BYTES and all(name in MEMO_FIELDS for name, _ in fields):
        if len(_recent) >= MEMO_ENTRIES:
            del _recent[next(iter(_recent))]  # the oldest: dicts keep insertion order
        _recent[body] = fields
    return fields


def _parse(body: bytes) -> _Fields:
    # No OAuth parameter may hold a NUL (RFC 6749 appendix A), and PostgreSQL's text
    # cannot: refused here, before a batched lookup could carry it for others too.
    if b"%00" in body or b"\x00" in body:
        raise ValueError("a NUL character")
    fields = parse_qsl(
        body.decode("ascii"),
        keep_blank_values=True,
        strict_parsing=False,
        encoding="utf-8",
        errors="strict",
        max_num_fields=_MAX_FIELDS,
    )
    # RFC 6749 section 3.1: "Parameters sent without a value MUST be treated
    # as if they were omitted from the request."
    return tuple((name, value) for name, value in fields if value != "")


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The body, from the ASGI messages themselves; RequestTooLarge past ``max_bytes``.

    Not through ``request.stream()``: that is an async generator, and asyncio
    registers every one started (its finaliser hooks, a WeakSet), which with
    the generator's own frames cost more than parsing the form (measured: 17%
    of an opaque token's interpreter time in reading the form, half of it
    outside ``parse_qsl``). A form is almost always one message.
    """
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise RequestTooLarge(f"the request body is over {max_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def single_valued(
    fields: list[tuple[str, str]], repeatable: frozenset[str]
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Split fields into single values and the repeatable ones; reject other repeats."""
    single: dict[str, str] = {}
    multiple: dict[str, list[str]] = {}
    for name, value in fields:
        if name in repeatable:
            multiple.setdefault(name, []).append(value)
        elif name in single:
            # The name comes from the request: quote it only in characters RFC 6749 allows.
            raise InvalidRequest(f"parameter {printable(name)} is repeated")
        else:
            single[name] = value
    return single, {name: tuple(values) for name, values in multiple.items()}
