"""Key material: a new key encrypted for storage, and a stored key opened for use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey

from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.stores.protocols import StoredKey

_CURVES = {"ES256": "P-256"}


@dataclass(slots=True, frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    key: ECKey

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "alg": self.algorithm, "use": "sig"}


def generate_stored_key(
    encryptor: KeyEncryptor, algorithm: str, *, now: int, activates_at: int, succeeds: str
) -> StoredKey:
    """A fresh key, its kid the RFC 7638 thumbprint, its private part encrypted."""
    key = ECKey.generate_key(_CURVES[algorithm], auto_kid=True)
    return StoredKey(
        kid=key.kid or key.thumbprint(),
        algorithm=algorithm,
        encrypted_private_key=encryptor.encrypt(key.as_pem(private=True)),
        created_at=now,
        activates_at=activates_at,
        succeeds=succeeds,
    )


def open_stored_key(encryptor: KeyEncryptor, stored: StoredKey) -> SigningKey:
    pem = encryptor.decrypt(stored.encrypted_private_key)
    key = ECKey.import_key(pem, {"kid": stored.kid})
    return SigningKey(kid=stored.kid, algorithm=stored.algorithm, key=key)
