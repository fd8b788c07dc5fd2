"""Signing secrets at rest: AES-256-GCM under a key derived from the vault's index key.

The dispatcher must sign with the secret, so it cannot be stored as a one-way hash
the way API keys are. It is encrypted instead (NIST SP 800-38D), under a key derived
by HKDF-SHA256 (RFC 5869) from the keyring's blind-index key with its own label. The
index key is the keyring's one stable key — KEKs rotate, and a secret sealed under a
retired KEK would become unreadable — and a per-purpose label keeps the derived key
independent of the blind-index subkeys. The associated data binds each ciphertext to
its endpoint id, so a sealed secret copied onto another endpoint does not open.

Layout (version 1): ``0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)``.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from realname.privacy.keys import Keyring, hkdf_sha256
from realname.webhooks.errors import WebhookSecretUnreadable

FORMAT_VERSION = 1
NONCE_BYTES = 12
_KEY_LABEL = b"realname/v1/webhook-secret"
_AAD_LABEL = b"realname/v1/webhook-secret/endpoint:"


class SecretBox:
    """Seals and opens webhook signing secrets; ``repr`` never shows the key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox()"

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> SecretBox:
        return cls(hkdf_sha256(keyring.index_key, _KEY_LABEL))

    def seal(self, endpoint_id: str, secret: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), _aad(endpoint_id))
        return bytes([FORMAT_VERSION]) + nonce + sealed

    def open(self, endpoint_id: str, blob: bytes) -> str:
        if len(blob) <= 1 + NONCE_BYTES or blob[0] != FORMAT_VERSION:
            raise WebhookSecretUnreadable("A sealed webhook secret is malformed.")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, _aad(endpoint_id)).decode("utf-8")
        except InvalidTag as exc:
            raise WebhookSecretUnreadable() from exc


def _aad(endpoint_id: str) -> bytes:
    return _AAD_LABEL + endpoint_id.encode("utf-8")


__all__ = ["SecretBox"]
