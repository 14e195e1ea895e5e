"""BackchannelRequest: a pending CIBA authentication request, as the user is shown it.

It carries what the user needs to decide (who asks, for what, with which
binding message) and a ``request_id`` that names it on the approval page and
API. The ``request_id`` is a separate random value: the ``auth_req_id`` is the
client's secret for the token endpoint and never reaches the user.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokensmith.models.grant import StoredGrant


@dataclass(slots=True, frozen=True)
class BackchannelRequest:
    request_id: str
    client_id: str
    client_name: str
    subject_id: str
    username: str
    scopes: tuple[str, ...]
    binding_message: str | None
    created_at: int
    expires_at: int

    @classmethod
    def from_grant(cls, grant: StoredGrant) -> BackchannelRequest:
        data = grant.data
        assert grant.client_id is not None
        assert grant.subject_id is not None
        return cls(
            request_id=data["request_id"],
            client_id=grant.client_id,
            client_name=data["client_name"],
            subject_id=grant.subject_id,
            username=data["username"],
            scopes=tuple(data["scopes"]),
            binding_message=data.get("binding_message"),
            created_at=grant.created_at,
            expires_at=grant.expires_at,
        )

    def to_json(self) -> dict[str, object]:
        """The approval API's view: no auth_req_id, no notification secrets."""
        return {
            "id": self.request_id,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "scopes": list(self.scopes),
            "binding_message": self.binding_message,
            "expires_at": self.expires_at,
        }
