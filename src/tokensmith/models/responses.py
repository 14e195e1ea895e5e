"""The token endpoint's answer before it becomes JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TokenResponse:
    """RFC 6749 section 5.1 response fields; a field left None is omitted.

    ``custom`` is merged into the JSON body (the Duende ``TokenResponse.Custom``
    seam); it cannot replace a standard field.
    """

    access_token: str | None = None
    access_token_lifetime: int | None = None
    identity_token: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    token_type: str = "Bearer"
    issued_token_type: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the response, standard fields written last."""
        body: dict[str, Any] = dict(self.custom)
        standard = {
            "access_token": self.access_token,
            "token_type": self.token_type if self.access_token is not None else None,
            "expires_in": self.access_token_lifetime,
            "refresh_token": self.refresh_token,
            "id_token": self.identity_token,
            "scope": self.scope,
            "issued_token_type": self.issued_token_type,
        }
        body.update({name: value for name, value in standard.items() if value is not None})
        return body
