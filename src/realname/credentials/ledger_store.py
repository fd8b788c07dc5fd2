"""The ledger in the database: append-only leaves, signed checkpoints, proofs.

Leaves are :class:`~realname.credentials.events.LedgerEvent` hashes with dense
indexes from 0 (the primary key, so a racing writer collides rather than forks).
:func:`append_many` writes a batch in one transaction: the caller commits once per
batch (group commit). :func:`checkpoint` signs the current tree head with the log key
(C2SP tlog-checkpoint) and stores the note; witnesses' cosignatures are merged in
later with :func:`store_cosigned`. Proofs are computed with
:mod:`~realname.credentials.merkle` from the stored leaf hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    NoteSigner,
    parse_signed_note,
    sign_checkpoint,
)
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.merkle import MerkleLog
from realname.credentials.verifier import LedgerEvidence
from realname.errors import NotFound
from realname.store.models import LedgerCheckpoint, LedgerLeaf

__all__ = [
    "append_many",
    "checkpoint",
    "consistency_proof",
    "evidence_for",
    "inclusion_proof",
    "latest_checkpoint",
    "load_log",
    "size",
    "store_cosigned",
]


def size(session: Session) -> int:
    """The number of leaves in the log."""
    return int(session.scalar(select(func.count()).select_from(LedgerLeaf)) or 0)


def append_many(session: Session, events: Sequence[LedgerEvent], *, at: datetime) -> list[int]:
    """Append ``events`` in order; answer their leaf indexes. The caller commits."""
    start = size(session)
    rows = [
        LedgerLeaf(
            leaf_index=start + i,
            leaf_hash=event.leaf_hash(),
            event_type=event.event_type.value,
            credential_hash=event.credential_hash.hex(),
            event_time=event.at,
            appended_at=at,
        )
        for i, event in enumerate(events)
    ]
    session.add_all(rows)
    session.flush()
    return [row.leaf_index for row in rows]


def load_log(session: Session, tree_size: int | None = None) -> MerkleLog:
    """The Merkle log of the first ``tree_size`` stored leaves (default: all)."""
    query = select(LedgerLeaf.leaf_hash).order_by(LedgerLeaf.leaf_index)
    if tree_size is not None:
        query = query.limit(tree_size)
    return MerkleLog(session.scalars(query))


def checkpoint(session: Session, signer: NoteSigner, *, at: datetime) -> str:
    """Sign and store the current tree head; answer the signed note.

    A checkpoint already stored for this size is answered as it is (with any
    cosignatures), so calling this every second on an idle log writes nothing.
    """
    log = load_log(session)
    existing = session.get(LedgerCheckpoint, log.size)
    if existing is not None:
        return existing.note
    note = sign_checkpoint(Checkpoint(signer.name, log.size, log.root()), signer)
    session.add(
        LedgerCheckpoint(tree_size=log.size, root_hash=log.root(), note=note, created_at=at)
    )
    session.flush()
    return note


def store_cosigned(session: Session, note: str) -> None:
    """Replace a stored checkpoint's note with the same note carrying more signatures."""
    body = Checkpoint.parse(parse_signed_note(note).text)
    row = session.get(LedgerCheckpoint, body.size)
    if row is None:
        raise NotFound("No checkpoint of this size.")
    if parse_signed_note(row.note).text != parse_signed_note(note).text:
        raise LedgerNoteMalformed("The cosigned note is for another tree head.")
    row.note = note
    session.flush()


def latest_checkpoint(session: Session) -> LedgerCheckpoint | None:
    return session.scalar(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(1)
    )


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``tree_size`` leaves."""
    return load_log(session, tree_size).inclusion_proof(index, tree_size)


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of ``new_size``."""
    return load_log(session, new_size).consistency_proof(old_size, new_size)


def evidence_for(session: Session, credential_hash: bytes) -> LedgerEvidence | None:
    """The issuance of ``credential_hash`` with its proof under the latest checkpoint.

    ``None`` when the issuance is not in the log or no checkpoint covers it yet.
    """
    leaf = session.scalar(
        select(LedgerLeaf)
        .where(
            LedgerLeaf.credential_hash == credential_hash.hex(),
            LedgerLeaf.event_type == EventType.ISSUED.value,
        )
        .order_by(LedgerLeaf.leaf_index)
        .limit(1)
    )
    head = latest_checkpoint(session)
    if leaf is None or head is None or leaf.leaf_index >= head.tree_size:
        return None
    proof = inclusion_proof(session, leaf.leaf_index, head.tree_size)
    return LedgerEvidence(leaf.event_time, leaf.leaf_index, head.tree_size, proof, head.note)
