"""The Token model: everything a token will say, before it is serialised."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokensmith._types import Claims


@dataclass(slots=True)
class Token:
    """A token being built.

    Mutable on purpose: ``TokenCreationService.create_payload`` is the last
    stage allowed to change it (for example to add an audience). ``claims``
    holds everything beyond the built-in fields: profile, scope/resource and
    custom claims, already merged under the protected-claims rule.
    """

    token_type: str
    issuer: str
    client_id: str
    audiences: list[str]
    scopes: list[str]
    lifetime: int
    created_at: int
    jti: str
    subject_id: str | None = None
    claims: Claims = field(default_factory=dict)
    access_token_format: str = "jwt"
    confirmation: Claims | None = None
    auth_time: int | None = None
    nonce: str | None = None
    session_id: str | None = None
    access_token_hash: str | None = None
    grant_family: str | None = None
    """The authorization this token descends from; revoking it revokes the token."""
    claim_sources: dict[str, str] = field(default_factory=dict)
    """Which stage put each entry of ``claims`` there (for ``tokensmith claims preview``)."""
    dropped_claims: dict[str, str] = field(default_factory=dict)
    """Claims a hook tried to set and why they were refused (also for the preview)."""

    @property
    def expires_at(self) -> int:
        return self.created_at + self.lifetime
