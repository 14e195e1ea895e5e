"""The registry remembers a secret method's success for the same inputs and client record.

A remembered authentication must answer exactly as the full way would: the
same credentials against the same, unchanged client. Anything else (a new
client record, other inputs, an assertion, a failure) goes the full way.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any, ClassVar

import pytest
from starlette.datastructures import Headers

from tokensmith.clientauth import client_secret_basic, client_secret_post
from tokensmith.clientauth import remembered as remembered_module
from tokensmith.clientauth.base import ClientAuthenticatorRegistry, ClientCredentials
from tokensmith.clientauth.client_secret_basic import ClientSecretBasic
from tokensmith.clientauth.client_secret_post import ClientSecretPost
from tokensmith.clientauth.none import NoClientAuthentication
from tokensmith.clientauth.secrets import check_presented_secret, hash_client_secret
from tokensmith.errors import InvalidClient, InvalidRequest
from tokensmith.models.client import Client
from tokensmith.stores.config import ChainedClientStore
from tokensmith.stores.sql.client_cache import CachedClientStore
from tokensmith.stores.sql.clients import SqlClientStore

SECRET = "a-generated-secret-0123456789abcdef012345"
BASIC = Client(
    "svc",
    "client_secret_basic",
    frozenset({"client_credentials"}),
    frozenset({"api:read"}),
    secret_hashes=(hash_client_secret(SECRET),),
)
POST = replace(BASIC, client_id="poster", token_endpoint_auth_method="client_secret_post")


class SwappableClients:
    """A client store whose records the test replaces, as a cache does after a change."""

    def __init__(self, *clients: Client) -> None:
        self.records = {client.client_id: client for client in clients}
        self.lookups = 0

    async def find_client_by_id(self, client_id: str) -> Client | None:
        self.lookups += 1
        return self.records.get(client_id)


class FreshCopies(SwappableClients):
    """A store without a cache: an equal but new object on every lookup."""

    async def find_client_by_id(self, client_id: str) -> Client | None:
        found = await super().find_client_by_id(client_id)
        return None if found is None else replace(found)


class SecretChecks:
    """Counts the secret checks the secret methods make (their ``verify``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made = 0
        for module in (client_secret_basic, client_secret_post):
            monkeypatch.setattr(module, "check_presented_secret", self.check)

    async def check(self, secret: str | None, client: Client) -> None:
        self.made += 1
        await check_presented_secret(secret, client)


class CountedNone(NoClientAuthentication):
    verified = 0

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        self.verified += 1


def basic(client_id: str = "svc", secret: str = SECRET) -> Headers:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return Headers({"authorization": f"Basic {encoded}"})


def registry(clients: SwappableClients, *authenticators: Any) -> ClientAuthenticatorRegistry:
    return ClientAuthenticatorRegistry(authenticators, clients)  # type: ignore[arg-type]


async def test_the_same_secret_is_verified_once_for_the_same_client_record(monkeypatch):
    checks = SecretChecks(monkeypatch)
    auth = registry(SwappableClients(BASIC, POST), ClientSecretBasic(), ClientSecretPost())
    for _ in range(5):
        assert await auth.authenticate(basic(), {}) is BASIC
        form = {"client_id": "poster", "client_secret": SECRET}
        assert await auth.authenticate(Headers(), form) is POST
    assert checks.made == 2


async def test_a_changed_client_record_is_verified_again(monkeypatch):
    """A rotated secret or a disabled client is a new record: the old answer does not hold."""
    checks = SecretChecks(monkeypatch)
    clients = SwappableClients(BASIC)
    auth = registry(clients, ClientSecretBasic())
    assert await auth.authenticate(basic(), {}) is BASIC
    rotated = replace(BASIC, secret_hashes=(hash_client_secret("the-new-secret"),))
    clients.records["svc"] = rotated
    with pytest.raises(InvalidClient):
        await auth.authenticate(basic(), {})
    assert await auth.authenticate(basic(secret="the-new-secret"), {}) is rotated
    clients.records["svc"] = replace(rotated, enabled=False)
    with pytest.raises(InvalidClient):
        await auth.authenticate(basic(secret="the-new-secret"), {})
    del clients.records["svc"]
    with pytest.raises(InvalidClient):
        await auth.authenticate(basic(secret="the-new-secret"), {})
    assert checks.made == 3  # the first, the old secret refused, the new one


async def test_a_client_changed_through_the_client_cache_is_verified_again(engine):
    """The real stores: a write through the cache makes a new record at once."""
    cached = CachedClientStore(SqlClientStore(engine))
    await cached.add_client(BASIC)
    auth = ClientAuthenticatorRegistry([ClientSecretBasic()], ChainedClientStore([], cached))
    assert (await auth.authenticate(basic(), {})).client_id == "svc"
    assert (await auth.authenticate(basic(), {})).client_id == "svc"
    new_hash = (hash_client_secret("the-new-secret"),)
    await cached.replace_client(replace(BASIC, secret_hashes=new_hash))
    with pytest.raises(InvalidClient):
        await auth.authenticate(basic(), {})
    assert (await auth.authenticate(basic(secret="the-new-secret"), {})).client_id == "svc"
    await cached.replace_client(replace(BASIC, secret_hashes=new_hash, enabled=False))
    with pytest.raises(InvalidClient):
        await auth.authenticate(basic(secret="the-new-secret"), {})


async def test_failures_are_never_remembered(monkeypatch):
    checks = SecretChecks(monkeypatch)
    auth = registry(SwappableClients(BASIC), ClientSecretBasic())
    for _ in range(3):
        with pytest.raises(InvalidClient):
            await auth.authenticate(basic(secret="wrong"), {})
    assert checks.made == 3
    assert len(auth._remembered or ()) == 0


async def test_other_inputs_beside_remembered_credentials_go_the_full_way():
    """A second method or a disagreeing client_id changes the key, so the rules still apply."""
    auth = registry(SwappableClients(BASIC), ClientSecretBasic(), ClientSecretPost())
    assert await auth.authenticate(basic(), {}) is BASIC
    with pytest.raises(InvalidRequest, match="more than one"):
        await auth.authenticate(basic(), {"client_id": "svc", "client_secret": SECRET})
    with pytest.raises(InvalidClient, match="does not match"):
        await auth.authenticate(basic(), {"client_id": "someone-else"})
    assert await auth.authenticate(basic(), {"grant_type": "client_credentials"}) is BASIC


async def test_client_id_is_part_of_the_key_whatever_the_methods_read():
    """With Basic alone no method reads client_id, but the registry compares it."""
    auth = registry(SwappableClients(BASIC), ClientSecretBasic())
    assert await auth.authenticate(basic(), {}) is BASIC
    with pytest.raises(InvalidClient, match="does not match"):
        await auth.authenticate(basic(), {"client_id": "someone-else"})


async def test_methods_without_reusable_verification_are_verified_every_time():
    public = Client("spa", "none", frozenset({"authorization_code"}), frozenset())
    counted = CountedNone()
    auth = registry(SwappableClients(public), counted)
    for _ in range(3):
        assert await auth.authenticate(Headers(), {"client_id": "spa"}) is public
    assert counted.verified == 3


async def test_a_subclass_that_overrides_verify_is_not_remembered():
    """Its own check (here: refusing on the third call) must run on every request."""

    class ThirdTimeRefused(ClientSecretBasic):
        calls = 0

        async def verify(self, credentials: ClientCredentials, client: Client) -> None:
            self.calls += 1
            if self.calls >= 3:
                raise InvalidClient("not any more")
            await super().verify(credentials, client)

    auth = registry(SwappableClients(BASIC), ThirdTimeRefused())
    assert await auth.authenticate(basic(), {}) is BASIC
    assert await auth.authenticate(basic(), {}) is BASIC
    with pytest.raises(InvalidClient, match="not any more"):
        await auth.authenticate(basic(), {})


async def test_an_authenticator_that_does_not_say_what_it_reads_turns_the_memo_off(monkeypatch):
    class Undeclared(ClientSecretPost):
        header_fields = None  # type: ignore[assignment]

    checks = SecretChecks(monkeypatch)
    auth = registry(SwappableClients(BASIC), ClientSecretBasic(), Undeclared())
    for _ in range(3):
        assert await auth.authenticate(basic(), {}) is BASIC
    assert checks.made == 3
    assert auth._remembered is None


async def test_a_store_without_a_cache_is_asked_once_per_request(monkeypatch):
    """Without the same object twice nothing is reused, and the lookup is not made twice."""
    checks = SecretChecks(monkeypatch)
    clients = FreshCopies(BASIC)
    auth = registry(clients, ClientSecretBasic())
    for _ in range(4):
        assert await auth.authenticate(basic(), {}) == BASIC
    assert checks.made == 4
    assert clients.lookups == 4


async def test_the_memo_holds_no_credential_and_is_bounded(monkeypatch):
    monkeypatch.setattr(remembered_module, "MAX_ENTRIES", 3)
    secrets = [f"secret-number-{n}-0123456789abcdef" for n in range(5)]
    clients = SwappableClients(
        *(
            replace(BASIC, client_id=f"svc{n}", secret_hashes=(hash_client_secret(s),))
            for n, s in enumerate(secrets)
        )
    )
    auth = registry(clients, ClientSecretBasic())
    for n, secret in enumerate(secrets):
        await auth.authenticate(basic(f"svc{n}", secret), {})
    memo = auth._remembered
    assert memo is not None and 0 < len(memo) <= 3
    kept = repr(memo._clients.keys())
    assert all(len(key) == 32 for key in memo._clients)  # SHA-256 digests
    assert not any(
        secret in kept or base64.b64encode(secret.encode()).decode() in kept for secret in secrets
    )


class ReadsAnotherHeader:
    """A method reading a header of its own (say a client certificate from a proxy)."""

    method: ClassVar[str] = "tls_client_auth"
    form_fields: ClassVar[frozenset[str]] = frozenset()
    header_fields: ClassVar[frozenset[str]] = frozenset({"x-client-cert"})

    def extract(self, headers: Headers, form: dict[str, str]) -> ClientCredentials | None:
        cert = headers.get("x-client-cert")
        return None if cert is None else ClientCredentials(self.method, "svc")

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        raise InvalidClient("no")


async def test_a_header_another_method_reads_is_part_of_the_key():
    auth = registry(SwappableClients(BASIC), ClientSecretBasic(), ReadsAnotherHeader())
    assert await auth.authenticate(basic(), {}) is BASIC
    both = Headers({**basic(), "x-client-cert": "MIIB..."})
    with pytest.raises(InvalidRequest, match="more than one"):
        await auth.authenticate(both, {})
