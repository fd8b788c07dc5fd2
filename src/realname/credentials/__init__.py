"""The shared ledger of credential issuance and revocation (DESIGN.md §7).

An append-only Merkle log holding hashes only, never personal data:

- :mod:`~realname.credentials.merkle`: RFC 6962 / RFC 9162 hashing, inclusion and
  consistency proofs, and the in-memory :class:`~realname.credentials.merkle.MerkleLog`;
- :mod:`~realname.credentials.checkpoint`: C2SP tlog-checkpoint tree heads in C2SP
  signed notes, Ed25519-signed by the log;
- :mod:`~realname.credentials.cosign`: C2SP tlog-cosignature witnesses that cosign
  only consistent checkpoints (``LEDGER_INCONSISTENT`` otherwise) and quorum checks.
"""

from __future__ import annotations

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    LedgerSignatureInvalid,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    parse_signed_note,
    sign_checkpoint,
    verify_note,
)
from realname.credentials.cosign import (
    CosignatureSigner,
    CosignatureVerifier,
    LedgerInconsistent,
    Witness,
    verify_quorum,
)
from realname.credentials.merkle import (
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "Checkpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "LedgerInconsistent",
    "LedgerNoteMalformed",
    "LedgerSignatureInvalid",
    "MerkleLog",
    "NoteSigner",
    "NoteVerifier",
    "Witness",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "parse_signed_note",
    "root",
    "sign_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
    "verify_quorum",
]
