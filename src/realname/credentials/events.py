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

from dataclasses import dataclass
from enum import StrEnum

from realname.credentials.merkle import leaf_hash

__all__ = ["EventType", "LedgerEvent"]

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
        return (
            f"{_TAG}\n{self.event_type.value}\n{self.credential_hash.hex()}\n{self.at}\n"
        ).encode("ascii")

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.data())
