"""KeyPolicy: the settings that time the key lifecycle, gathered in one value."""

from __future__ import annotations

from dataclasses import dataclass

from tokensmith.settings import Settings

DEFAULT_ALGORITHM = "ES256"
_DAY = 24 * 3600


@dataclass(slots=True, frozen=True)
class KeyPolicy:
    """The defaults never rotate by themselves: rotation is switched on by settings."""

    rotation_seconds: int = 0
    """Age of the active key at which the next one is added; 0: only by hand."""
    announce_seconds: int = 3600
    """How long a new key is published before it signs, so verifiers fetch it first."""
    removal_delay: int = 3600
    """How long a key stays published after it stops signing: the longest token lifetime."""
    algorithm: str = DEFAULT_ALGORITHM

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyPolicy:
        lifetimes = [
            settings.key_publish_overlap,
            settings.access_token_lifetime,
            settings.id_token_lifetime,
            *(client.access_token_lifetime or 0 for client in settings.clients),
        ]
        return cls(
            rotation_seconds=settings.key_rotation_days * _DAY,
            announce_seconds=settings.key_announce_seconds,
            removal_delay=max(lifetimes),
        )
