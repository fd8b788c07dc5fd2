"""Ledger entries for credential issuance and revocation: hashes only, never claims.

A leaf's data (the RFC 9162 ``D[n]`` that is hashed with the 0x00 prefix) is the
ASCII text::

    realname-ledger-event/v1
    <issued | revoked>
    <hex SHA-256 of the issuer-signed JWT>
    <unix time, decimal>

The issuer-signed JWT holds only salted digests of the disclosable claims, and the
ledger holds only a hash of that JWT, so no personal data can be read from the log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from realname.credentials.merkle import leaf_hash

__all__ = ["EventType", "LedgerEvent", "event_leaf_hash"]

_TAG = "realname-ledger-event/v1"


class EventType(StrEnum):
    ISSUED = "issued"
    REVOKED = "revoked"


@dataclass(frozen=True)
class LedgerEvent:
    """One ledger entry: what happened to which credential (by hash), and when."""

    event_type: EventType
    credential_hash: bytes
    at: int

    def __post_init__(self) -> None:
        if len(self.credential_hash) != 32 or self.at < 0:
            raise ValueError("a ledger event has a 32-byte hash and a time >= 0")

    def data(self) -> bytes:
        """The leaf data ``D[n]``."""
        return _data(self.event_type, self.credential_hash, self.at)

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.data())


_HEADER = {event_type.value: f"{_TAG}\n{event_type.value}\n" for event_type in EventType}
_LEAF_HEADER = {value: f"\x00{header}" for value, header in _HEADER.items()}


def _data(event_type: EventType, credential_hash: bytes, at: int) -> bytes:
    # Keyed by the plain string: Enum's ``value`` and ``__hash__`` are Python-level
    # calls, and this runs on every presentation. ``str.__str__`` gives the value.
    header = _HEADER[str.__str__(event_type)]
    return f"{header}{credential_hash.hex()}\n{at}\n".encode("ascii")


def event_leaf_hash(event_type: EventType, credential_hash: bytes, at: int) -> bytes:
    """``LedgerEvent(event_type, credential_hash, at).leaf_hash()``, same checks.

    For the verifier, which hashes one event per presentation and needs no event
    object; raises ``ValueError`` on the inputs the constructor refuses.
    """
    if len(credential_hash) != 32 or at < 0:
        raise ValueError("a ledger event has a 32-byte hash and a time >= 0")
    # leaf_hash(_data(...)) in one expression: the 0x00 prefix leads the header text.
    header = _LEAF_HEADER[str.__str__(event_type)]
    return hashlib.sha256(f"{header}{credential_hash.hex()}\n{at}\n".encode("ascii")).digest()
