"""Keys derived for the accounts package from the vault's blind-index key.

HKDF-SHA256 (RFC 5869) under labels of their own, so these keys are independent of
the blind-index subkeys (``realname/v1/blind-index/<kind>``) and of each other. Like
the index key they never rotate with the master keys: a stored code MAC or attempt
key must keep meaning the same value.
"""

from __future__ import annotations

import functools
import hmac
from hashlib import sha256

from realname.privacy.keys import hkdf_sha256
from realname.privacy.vault import Vault

_LABEL = b"realname/v1/accounts/"


@functools.lru_cache(maxsize=32)
def _derive(index_key: bytes, purpose: str) -> bytes:
    return hkdf_sha256(index_key, _LABEL + purpose.encode("ascii"))


def subkey(vault: Vault, purpose: str) -> bytes:
    """The key for ``purpose`` (``otp-code``, ``attempt/device``, …)."""
    return _derive(vault.keyring.index_key, purpose)


def mac_hex(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 (RFC 2104) of the parts, unambiguously joined, as 64 hex characters."""
    message = b"".join(
        len(encoded).to_bytes(4, "big") + encoded for encoded in (p.encode("utf-8") for p in parts)
    )
    return hmac.new(key, message, sha256).hexdigest()
