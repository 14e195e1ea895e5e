"""The secret behind DPoP nonces, derived from the key-encryption key.

Every process of one deployment already shares the key-encryption key (it
must, to open the stored signing keys), so it is the one piece of configured
material that is the same everywhere without adding a setting. The nonce key
is derived from it with HKDF under its own label, so the KEK itself is never
used for anything but encryption.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tokensmith.keys.encryption import KEK_FILE_NAME
from tokensmith.settings import ConfigError, Settings

_LABEL = b"tokensmith dpop nonce v1"


def nonce_secret(settings: Settings) -> bytes:
    """32 bytes derived from the configured KEK, or from the data folder's KEK file."""
    configured = settings.key_encryption_key
    if configured is not None:
        material = configured.get_secret_value().encode()
    else:
        path = settings.data_dir / KEK_FILE_NAME
        if not path.is_file():
            raise ConfigError(f"DPoP nonces need the key-encryption key, and {path} is missing")
        material = path.read_bytes().strip()
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=_LABEL).derive(material)
