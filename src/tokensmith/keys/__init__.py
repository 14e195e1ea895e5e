"""Signing keys: generation, encryption at rest, the lifecycle (rotation) and the JWKS view."""

from tokensmith.keys.lifecycle import KeyState
from tokensmith.keys.manager import KeyManager, SigningKey
from tokensmith.keys.policy import KeyPolicy
from tokensmith.keys.rotation import KeyLifecycleError, KeyRotation

__all__ = ["KeyLifecycleError", "KeyManager", "KeyPolicy", "KeyRotation", "KeyState", "SigningKey"]
