"""Encryption of private keys at rest with a key-encryption key (KEK).

The KEK is a Fernet key (AES-128-CBC + HMAC-SHA256, from ``cryptography``).
It comes from ``TOKENSMITH_KEY_ENCRYPTION_KEY``; the embedded default keeps a
generated one in the data folder, beside the database it protects.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tokensmith.settings import ConfigError, Settings

logger = logging.getLogger(__name__)

KEK_FILE_NAME = "key-encryption.key"


class KeyEncryptor:
    """Encrypts with the KEK that ``key_source`` gives, read on first use.

    Reading lazily keeps app construction free of side effects: the data
    folder's KEK file is created at start-up, not when the app is built.
    """

    def __init__(self, key_source: Callable[[], bytes]):
        self._key_source = key_source
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            try:
                self._fernet = Fernet(self._key_source())
            except ValueError:
                raise ConfigError(
                    "key_encryption_key: must be 32 url-safe base64-encoded bytes (a Fernet key)"
                ) from None
        return self._fernet

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._cipher().encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._cipher().decrypt(ciphertext)
        except InvalidToken:
            raise ConfigError(
                "key_encryption_key: cannot decrypt the stored signing keys with this key"
            ) from None


def load_key_encryptor(settings: Settings) -> KeyEncryptor:
    """The configured KEK, or the data folder's one (created on first use)."""
    configured = settings.key_encryption_key
    if configured is not None:
        return KeyEncryptor(lambda: configured.get_secret_value().encode())
    return KeyEncryptor(lambda: _data_dir_kek(settings.data_dir))


def _data_dir_kek(data_dir: Path) -> bytes:
    path = data_dir / KEK_FILE_NAME
    if path.is_file():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: if another process created it first, use theirs.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    logger.warning(
        "generated a key-encryption key in %s; set TOKENSMITH_KEY_ENCRYPTION_KEY in production",
        path,
    )
    return key
