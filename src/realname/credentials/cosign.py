"""Witness cosignatures of ledger checkpoints (C2SP tlog-cosignature, cosignature/v1).

Other institutions run witnesses: each checks that a new checkpoint is consistent
with the last one it saw from the same log, then cosigns it, so a log operator cannot
show different histories to different parties (a split view) without being caught.

An Ed25519 cosignature (https://c2sp.org/tlog-cosignature) is a signed-note line
whose key ID is ``SHA-256(<name> || "\\n" || 0x04 || 32-byte public key)[:4]`` and
whose signature is ``u64 big-endian timestamp || 64-byte Ed25519 signature`` over::

    cosignature/v1
    time <timestamp, decimal>
    <the whole checkpoint body, extension lines included>
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    NoteSignature,
    NoteVerifier,
    add_signatures,
    key_id,
    open_checkpoint,
    parse_signed_note,
    verify_note,
)
from realname.credentials.merkle import EMPTY_ROOT, verify_consistency
from realname.errors import RealnameError

__all__ = [
    "SIG_TYPE_COSIGNATURE_V1",
    "CosignatureSigner",
    "CosignatureVerifier",
    "LedgerInconsistent",
    "Witness",
    "cosigned_message",
    "verify_quorum",
]

SIG_TYPE_COSIGNATURE_V1 = 0x04
_MAX_TIMESTAMP = 2**63 - 1


class LedgerInconsistent(RealnameError):
    """A checkpoint does not extend the history a witness has already seen (a fork)."""

    code: ClassVar[str] = "LEDGER_INCONSISTENT"
    http_status: ClassVar[int] = 409
    default_message: ClassVar[str] = (
        "The checkpoint is not consistent with the last checkpoint this witness cosigned."
    )


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature/v1 signs (C2SP tlog-cosignature)."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's Ed25519 cosignature/v1 public key."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, SIG_TYPE_COSIGNATURE_V1, _raw_public(self.public_key))

    def verify(self, text: str, signature: bytes) -> bool:
        if len(signature) != 8 + 64:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            return False
        try:
            self.public_key.verify(signature[8:], cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's Ed25519 cosignature/v1 signing key."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.private_key.public_key())

    def cosign(self, body: str, timestamp: int) -> NoteSignature:
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise ValueError("a cosignature timestamp is within 0..2^63-1")
        signature = self.private_key.sign(cosigned_message(body, timestamp))
        return NoteSignature(
            self.name, self.verifier.key_id, timestamp.to_bytes(8, "big") + signature
        )


class Witness:
    """A witness: remembers the latest (size, root) per log and cosigns only extensions.

    ``logs`` maps each log origin the witness follows to the log's checkpoint key. The
    first checkpoint of a log is checked against the empty tree, so the log must send
    an empty proof and the witness then trusts that tree head from then on. State is
    in memory here; a deployed witness must persist it before releasing a cosignature.
    """

    def __init__(self, signer: CosignatureSigner, logs: Mapping[str, NoteVerifier]) -> None:
        self.signer = signer
        self._logs = dict(logs)
        self._latest: dict[str, tuple[int, bytes]] = {}

    def latest(self, origin: str) -> tuple[int, bytes]:
        """The (size, root hash) of the last checkpoint cosigned for ``origin``."""
        return self._latest.get(origin, (0, EMPTY_ROOT))

    def add_checkpoint(self, note: str, proof: Sequence[bytes], *, now: int | None = None) -> str:
        """Verify a signed checkpoint and the consistency proof from the last one seen;
        answer the note with this witness's cosignature appended.

        Raises :class:`~realname.credentials.checkpoint.LedgerSignatureInvalid` when the
        log's signature does not verify, :class:`LedgerNoteMalformed` for a log the
        witness does not follow, and :class:`LedgerInconsistent` for a smaller tree, a
        different root at the same size, or a consistency proof that fails.
        """
        origin = note.split("\n", 1)[0]
        log_key = self._logs.get(origin)
        if log_key is None:
            raise LedgerNoteMalformed("This witness does not follow that log.")
        checkpoint: Checkpoint = open_checkpoint(note, log_key)
        old_size, old_root = self.latest(origin)
        if not verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root_hash, proof):
            raise LedgerInconsistent(origin=origin, old_size=old_size, new_size=checkpoint.size)
        self._latest[origin] = (checkpoint.size, checkpoint.root_hash)
        timestamp = int(time.time()) if now is None else now
        # Sign the exact text the log signed, not a re-rendering of the parsed checkpoint.
        body = parse_signed_note(note).text
        return add_signatures(note, [self.signer.cosign(body, timestamp)])


def verify_quorum(note: str, witness_keys: Sequence[CosignatureVerifier], k: int) -> bool:
    """Whether at least ``k`` distinct witnesses among ``witness_keys`` cosigned ``note``.

    Only valid signatures by known keys count, and a witness counts once however many
    lines it added. ``k`` must be at least 1: a quorum of zero would trust anything.
    """
    if k < 1:
        raise ValueError("a quorum needs at least one witness")
    # A log's own note signature must never be counted as a witness's cosignature.
    if not all(isinstance(key, CosignatureVerifier) for key in witness_keys):
        raise TypeError("witness keys must be cosignature/v1 keys")
    return len(verify_note(note, witness_keys)) >= k
