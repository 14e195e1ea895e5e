"""The ClientAuthenticator protocol and the registry that dispatches on it.

An authenticator works in two steps: ``extract`` finds the credentials of its
method in the request (without trusting them), and ``verify`` checks them
against the registered client: a secret, a signed assertion, or nothing for
a public client. Between the two, the registry enforces the rules common to
every method: exactly one method per request (RFC 6749 section 2.3), a
``client_id`` form field that agrees with the credentials, a known enabled
client, and the method that client registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from starlette.datastructures import Headers

from tokensmith._types import FormData
from tokensmith.clientauth.remembered import RememberedAuthentications
from tokensmith.errors import InvalidClient, InvalidRequest
from tokensmith.models.client import Client
from tokensmith.stores.protocols import ClientStore


@dataclass(slots=True, frozen=True)
class ClientCredentials:
    """What a request presented: the method, the client it names, and its proof.

    ``secret`` is set by the secret methods, ``assertion`` (a compact JWT) by
    the assertion methods (RFC 7521 section 4.2); ``none`` sets neither.
    """

    method: str
    client_id: str
    secret: str | None = None
    assertion: str | None = None


class ClientAuthenticator(Protocol):
    """One client authentication method: where its credentials are, and how to check them.

    An authenticator may also set ``signing_algorithms: ClassVar[tuple[str, ...]]``
    when its credentials are signed, for discovery's
    ``token_endpoint_auth_signing_alg_values_supported``; and, so that the
    registry may remember authentications (``clientauth/remembered.py``),
    ``header_fields: ClassVar[frozenset[str]]``, the headers ``extract`` reads,
    and ``reusable_verification: ClassVar[bool]`` beside its ``verify``, True when
    ``verify`` of the same credentials against the same ``Client`` object always
    gives the same answer (a secret; not an assertion, which expires and is used
    once). A subclass that overrides ``verify`` must say so again.
    """

    method: ClassVar[str]
    form_fields: ClassVar[frozenset[str]]
    """The form fields ``extract`` reads."""

    def extract(self, headers: Headers, form: FormData) -> ClientCredentials | None:
        """The credentials if this method was used, None if not; raise if malformed."""
        ...

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        """Raise InvalidClient unless ``credentials`` prove to be ``client``.

        Called only for an enabled client registered with this method.
        """
        ...


class ClientAuthenticatorRegistry:
    """Authenticates a client with whichever registered method the request used."""

    def __init__(self, authenticators: Iterable[ClientAuthenticator], clients: ClientStore):
        self._authenticators = {a.method: a for a in authenticators}
        self._clients = clients
        self._remembered = RememberedAuthentications.for_authenticators(
            self._authenticators.values()
        )
        self._reusable = frozenset(
            method
            for method, authenticator in self._authenticators.items()
            if RememberedAuthentications.reusable(authenticator)
        )

    @property
    def methods(self) -> list[str]:
        """The method names, for discovery's token_endpoint_auth_methods_supported."""
        return sorted(self._authenticators)

    @property
    def signing_algorithms(self) -> list[str]:
        """Every ``alg`` a signed method accepts (RFC 8414 ``..._auth_signing_alg_values``)."""
        algorithms: set[str] = set()
        for authenticator in self._authenticators.values():
            algorithms.update(getattr(authenticator, "signing_algorithms", ()))
        return sorted(algorithms)

    @property
    def form_fields(self) -> frozenset[str]:
        """Form fields that belong to client authentication, not to the grant."""
        return frozenset().union(*(a.form_fields for a in self._authenticators.values()))

    async def authenticate(self, headers: Headers, form: FormData) -> Client:
        """The client the request authenticated as; InvalidClient or InvalidRequest if none."""
        remembered = self._remembered
        if remembered is None:
            return (await self._authenticate(headers, form, None))[0]
        key = remembered.key(headers, form)
        looked_up = None
        client = remembered.client(key)
        if client is not None:
            looked_up = await self._clients.find_client_by_id(client.client_id)
            if looked_up is client:  # the record it was verified against, unchanged
                return client
            remembered.forget(key)
        client, authenticator = await self._authenticate(headers, form, looked_up)
        if authenticator.method in self._reusable:
            remembered.remember(key, client)
        return client

    async def _authenticate(
        self, headers: Headers, form: FormData, looked_up: Client | None
    ) -> tuple[Client, ClientAuthenticator]:
        """The full way; ``looked_up`` is the client record already read for these inputs."""
        presented = [
            (authenticator, credentials)
            for authenticator in self._authenticators.values()
            if (credentials := authenticator.extract(headers, form)) is not None
        ]
        if len(presented) > 1:
            # RFC 6749 section 2.3: "The client MUST NOT use more than one
            # authentication method in each request."
            raise InvalidRequest("more than one client authentication method was used")
        if not presented:
            raise InvalidClient("client authentication is required")
        authenticator, credentials = presented[0]
        if form.get("client_id", credentials.client_id) != credentials.client_id:
            raise InvalidClient("client_id does not match the client credentials")
        if looked_up is not None and looked_up.client_id == credentials.client_id:
            client: Client | None = looked_up
        else:
            client = await self._clients.find_client_by_id(credentials.client_id)
        if client is None or not client.enabled:
            raise InvalidClient("client authentication failed")
        if client.token_endpoint_auth_method != authenticator.method:
            raise InvalidClient("client authentication failed")
        await authenticator.verify(credentials, client)
        return client, authenticator
