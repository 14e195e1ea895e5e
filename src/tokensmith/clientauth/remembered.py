"""RememberedAuthentications: a client's secret checked once per client record, not per request.

A service using client_credentials sends the same credentials with every
token request. Authenticating them the full way each time (every method's
``extract``, Basic decoding, the secret's SHA-256 and constant-time
comparison) was about a tenth of a worker's instructions per cc_jwt token.
The registry remembers a successful authentication by the request's
authentication inputs and gives the same answer again while the client
store still returns the very same ``Client`` object, which a cached store
does until the client changes (``stores/sql/client_cache.py``) and the
config file's clients always do.

Only methods whose verification is *reusable* are remembered: a secret
compared with the client's hashes gives the same answer for the same
client record. An assertion (``private_key_jwt``, ``client_secret_jwt``)
is not: it expires and its ``jti`` may be used once. Failures are never
remembered, so a wrong secret costs the full check every time.

The key is a SHA-256 of every header and form field any registered
method reads, and of ``client_id``, which the registry itself compares, so
the memo holds no credential, and a request that adds one (a second
method, a different ``client_id``) is a different key and goes the full
way, where the registry's rules refuse it. The memo can only be used when
every authenticator declares the headers it reads
(``header_fields``); one that does not turns it off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.datastructures import Headers

from tokensmith._types import FormData
from tokensmith.models.client import Client

__all__ = ["MAX_ENTRIES", "RememberedAuthentications"]

MAX_ENTRIES = 1024
"""Beyond this many remembered credentials the memo starts over, bounding memory."""


class RememberedAuthentications:
    def __init__(self, header_fields: Iterable[str], form_fields: Iterable[str]):
        self._header_fields = tuple(sorted(header_fields))
        self._form_fields = tuple(sorted(form_fields))
        self._clients: dict[bytes, Client] = {}

    @classmethod
    def for_authenticators(cls, authenticators: Iterable[Any]) -> RememberedAuthentications | None:
        """A memo keyed on what these authenticators read; None if one does not say."""
        header_fields: set[str] = set()
        form_fields = {"client_id"}  # the registry itself compares it with the credentials
        for authenticator in authenticators:
            headers_read = getattr(authenticator, "header_fields", None)
            if headers_read is None:
                return None
            header_fields.update(headers_read)
            form_fields.update(authenticator.form_fields)
        return cls(header_fields, form_fields)

    def key(self, headers: Headers, form: FormData) -> bytes:
        """The digest of the request's authentication inputs (absent ones included, as null)."""
        presented = [headers.get(name) for name in self._header_fields]
        presented.extend(form.get(name) for name in self._form_fields)
        return hashlib.sha256(orjson.dumps(presented)).digest()

    def client(self, key: bytes) -> Client | None:
        """The client these inputs authenticated as, if remembered."""
        return self._clients.get(key)

    @staticmethod
    def reusable(authenticator: object) -> bool:
        """Whether ``authenticator`` says its ``verify`` may be remembered.

        Only the class that defines ``verify`` can say so: a subclass that adds a
        check to a secret method's ``verify`` (an address list, a lookup elsewhere)
        does not inherit the permission to skip it.
        """
        for cls in type(authenticator).__mro__:
            if "verify" in cls.__dict__:
                return cls.__dict__.get("reusable_verification", False) is True
        return False

    def remember(self, key: bytes, client: Client) -> None:
        if len(self._clients) >= MAX_ENTRIES:
            self._clients.clear()
        self._clients[key] = client

    def forget(self, key: bytes) -> None:
        self._clients.pop(key, None)

    def __len__(self) -> int:
        return len(self._clients)
