"""The ledger in the database: append-only leaves, signed checkpoints, proofs.

Leaves are :class:`~realname.credentials.events.LedgerEvent` hashes with dense
indexes from 0 (the primary key, so a racing writer collides rather than forks).
:func:`append_many` writes a batch in one transaction: the caller commits once per
batch (group commit), and a writer that loses the race for the next indexes retries.
:func:`checkpoint` signs the current tree head with the log key
(C2SP tlog-checkpoint) and stores the note; witnesses' cosignatures are merged in
later with :func:`store_cosigned`. Proofs are computed with
:mod:`~realname.credentials.merkle` from the stored leaf hashes, reading only the
few blocks of leaves a proof touches (see :func:`_subtrees`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    NoteSigner,
    parse_signed_note,
    sign_checkpoint,
)
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.merkle import (
    CompactRange,
    MerkleLog,
    SubtreeHash,
    consistency_proof_from,
    inclusion_proof_from,
    node_hash,
    subtree_hash,
)
from realname.credentials.verifier import LedgerEvidence
from realname.errors import NotFound, RealnameError
from realname.store.models import LedgerCheckpoint, LedgerLeaf

__all__ = [
    "APPEND_ATTEMPTS",
    "LedgerAppendConflict",
    "append_many",
    "checkpoint",
    "consistency_proof",
    "evidence_for",
    "forget_tree_state",
    "inclusion_proof",
    "latest_checkpoint",
    "load_log",
    "size",
    "store_cosigned",
]

logger = logging.getLogger(__name__)


#: How often an append retries after losing the race for its indexes.
APPEND_ATTEMPTS = 8
#: The PostgreSQL advisory lock appenders queue on (any fixed 64-bit number that no
#: other part of the application uses: the ASCII of "rnledger").
LEDGER_LOCK_KEY = int.from_bytes(b"rnledger", "big")  # < 2**63: a PostgreSQL bigint


class LedgerAppendConflict(RealnameError):
    """Other writers kept taking the next indexes; the append was not made."""

    code = "LEDGER_APPEND_CONFLICT"
    http_status = 503
    default_message = "The ledger is busy; try again."


def size(session: Session) -> int:
    """The number of leaves in the log.

    Indexes are dense from 0, so this is the highest index plus one — a primary-key
    lookup, where ``count(*)`` would scan a table that only grows.
    """
    highest = session.scalar(select(func.max(LedgerLeaf.leaf_index)))
    return 0 if highest is None else int(highest) + 1


def append_many(session: Session, events: Sequence[LedgerEvent], *, at: datetime) -> list[int]:
    """Append ``events`` in order; answer their leaf indexes. The caller commits.

    Appenders queue rather than race: on PostgreSQL a transaction-scoped advisory
    lock (:data:`LEDGER_LOCK_KEY`, released at the caller's commit or rollback) lets
    one appender at a time read the size and insert; on SQLite a transaction holds
    the write lock from ``BEGIN IMMEDIATE``. Without the queue, under contention a
    writer can lose the index race to each of the others again and again (seen with
    four writers on PostgreSQL). The race is still handled should another writer
    bypass the lock: the primary key lets one win, the loser rolls back to a
    savepoint (its caller's transaction is kept), reads the size again and retries,
    up to :data:`APPEND_ATTEMPTS` times.
    """
    hashes = [event.leaf_hash() for event in events]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_KEY})
    for attempt in range(APPEND_ATTEMPTS):
        try:
            with session.begin_nested():
                start = size(session)
                rows = [
                    {
                        "leaf_index": start + i,
                        "leaf_hash": hashes[i],
                        "event_type": event.event_type.value,
                        "credential_hash": event.credential_hash.hex(),
                        "event_time": event.at,
                        "appended_at": at,
                    }
                    for i, event in enumerate(events)
                ]
                if rows:
                    # One executemany, not an ORM object per leaf: appends come in
                    # thousands per second and nobody reads these rows back here.
                    session.execute(insert(LedgerLeaf), rows)
            return [start + i for i in range(len(rows))]
        except IntegrityError:
            logger.info("ledger append lost an index race", extra={"attempt": attempt + 1})
    raise LedgerAppendConflict()


def load_log(session: Session, tree_size: int | None = None) -> MerkleLog:
    """The Merkle log of the first ``tree_size`` stored leaves (default: all)."""
    query = select(LedgerLeaf.leaf_hash).order_by(LedgerLeaf.leaf_index)
    if tree_size is not None:
        query = query.limit(tree_size)
    return MerkleLog(session.scalars(query))


@dataclass(frozen=True)
class _TreeState:
    """The compact range of the log as of a stored checkpoint."""

    tree: CompactRange
    root: bytes


# Per engine (database): the tree state at the last checkpoint this process signed.
_TREES: weakref.WeakKeyDictionary[Engine, _TreeState] = weakref.WeakKeyDictionary()
_TREES_LOCK = threading.Lock()


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def forget_tree_state() -> None:
    """Drop every cached tree state (the next checkpoint or proof reads all leaves)."""
    with _TREES_LOCK:
        _TREES.clear()
        _PYRAMIDS.clear()


def _tree_state(session: Session) -> CompactRange:
    """The compact range of the stored leaves, from the cache when it is still true.

    A cached state is used only if a checkpoint of its size is stored with its root:
    a root commits to every leaf below it, so a state built in a transaction that
    later rolled back (its leaves gone or replaced) is not trusted. Only the leaves
    appended since are read; a miss reads them all.
    """
    with _TREES_LOCK:
        cached = _TREES.get(_engine(session))
    tree = CompactRange()
    if cached is not None:
        stored = session.get(LedgerCheckpoint, cached.tree.size)
        if stored is not None and stored.root_hash == cached.root:
            tree = cached.tree.copy()
    for leaf in session.scalars(
        select(LedgerLeaf.leaf_hash)
        .where(LedgerLeaf.leaf_index >= tree.size)
        .order_by(LedgerLeaf.leaf_index)
    ):
        tree.append_leaf_hash(leaf)
    return tree


def checkpoint(session: Session, signer: NoteSigner, *, at: datetime) -> str:
    """Sign and store the current tree head; answer the signed note.

    A checkpoint already stored for this size is answered as it is (with any
    cosignatures), so calling this every second on an idle log writes nothing. The
    tree state is cached per database, so a checkpoint reads only the leaves
    appended since the previous one (``realname ledger audit`` still recomputes
    everything from the leaves).
    """
    tree = _tree_state(session)
    root = tree.root()
    existing = session.get(LedgerCheckpoint, tree.size)
    if existing is not None:
        note = existing.note
    else:
        note = sign_checkpoint(Checkpoint(signer.name, tree.size, root), signer)
        session.add(LedgerCheckpoint(tree_size=tree.size, root_hash=root, note=note, created_at=at))
        session.flush()
    with _TREES_LOCK:
        _TREES[_engine(session)] = _TreeState(tree, root)
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


#: Leaves per block whose root a process caches for proofs (a power of two): a
#: proof reads one or two blocks of leaves, and the cache holds one hash per block
#: (a million leaves: 16,384 hashes).
PROOF_BLOCK = 64


@dataclass(frozen=True)
class _Pyramid:
    """What a process keeps to answer proofs without reading the whole log.

    ``levels[0]`` are the roots of the blocks ``[j·B, (j+1)·B)``, each level above
    pairs the one below (so a perfect subtree of ``B·2**level`` leaves is one
    lookup); ``edge`` are the leaf hashes past the last whole block up to the
    checkpoint. Built only up to a stored checkpoint whose root they were checked
    to reproduce, and used only while that checkpoint is still stored with that
    root (as :func:`_tree_state` does): a root commits to every leaf below it, so
    hashes built from rows of a transaction that later rolled back are dropped.
    """

    levels: tuple[tuple[bytes, ...], ...]
    edge: tuple[bytes, ...]
    checked_size: int
    checked_root: bytes

    @property
    def covered(self) -> int:
        """Leaves covered by whole cached blocks."""
        return len(self.levels[0]) * PROOF_BLOCK if self.levels else 0


_PYRAMIDS: weakref.WeakKeyDictionary[Engine, _Pyramid] = weakref.WeakKeyDictionary()


def _leaf_hashes(session: Session, start: int, end: int) -> list[bytes]:
    """The stored leaf hashes of indexes ``start <= i < end``, in order (all present)."""
    hashes = list(
        session.scalars(
            select(LedgerLeaf.leaf_hash)
            .where(LedgerLeaf.leaf_index >= start, LedgerLeaf.leaf_index < end)
            .order_by(LedgerLeaf.leaf_index)
        )
    )
    if len(hashes) != end - start:
        raise ValueError(f"the log holds fewer than {end} leaves")
    return hashes


def _levels(blocks: Sequence[bytes]) -> tuple[tuple[bytes, ...], ...]:
    if not blocks:
        return ()
    levels = [tuple(blocks)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(tuple(node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)))
    return tuple(levels)


def _subtrees(session: Session, size: int, pyramid: _Pyramid | None) -> SubtreeHash:
    """``MTH(D[start:end])`` for ranges of the first ``size`` leaves, read sparingly.

    A perfect subtree of at least a block inside the cached pyramid is one lookup;
    a smaller one is hashed from its block's leaves (the cached edge, or read once
    per request); any other range splits as RFC 9162 does. An inclusion proof so
    reads the leaf's block (and the block at the tree's edge when the tree is past
    the cached checkpoint), a consistency proof the block at the old size: never
    the whole log. A tree larger than the stored log raises ``ValueError`` (the
    block holding its last leaf is always read or cached).
    """
    levels = pyramid.levels if pyramid is not None else ()
    covered = pyramid.covered if pyramid is not None else 0
    blocks: dict[int, list[bytes] | tuple[bytes, ...]] = {}
    if pyramid is not None and covered < size <= pyramid.checked_size:
        blocks[covered // PROOF_BLOCK] = pyramid.edge[: size - covered]

    def block(j: int) -> Sequence[bytes]:
        if j not in blocks:
            blocks[j] = _leaf_hashes(session, j * PROOF_BLOCK, min((j + 1) * PROOF_BLOCK, size))
        return blocks[j]

    def subtree(start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:  # a perfect subtree
            if n >= PROOF_BLOCK and end <= covered:
                return levels[(n // PROOF_BLOCK).bit_length() - 1][start // n]
            if n <= PROOF_BLOCK:
                base = start - start % PROOF_BLOCK
                return subtree_hash(block(base // PROOF_BLOCK)[start - base : end - base])
        k = 1 << ((n - 1).bit_length() - 1)  # as merkle's recursion splits
        return node_hash(subtree(start, start + k), subtree(start + k, end))

    return subtree


def _pyramid(session: Session) -> _Pyramid | None:
    """The cached block roots, extended to the latest stored checkpoint and checked.

    One query when the checkpoint has not moved; extending reads only the leaves
    appended since the cached checkpoint (all of them the first time in a process).
    ``None`` when there is no checkpoint yet, or when the stored leaves do not
    reproduce the checkpoint's root (then nothing is cached, and proofs computed
    from the leaves will not verify either).
    """
    with _TREES_LOCK:
        cached = _PYRAMIDS.get(_engine(session))
    head = session.execute(
        select(LedgerCheckpoint.tree_size, LedgerCheckpoint.root_hash)
        .order_by(LedgerCheckpoint.tree_size.desc())
        .limit(1)
    ).first()
    if head is None or head.tree_size == 0:
        return None
    if cached is not None:
        if cached.checked_size == head.tree_size and cached.checked_root == head.root_hash:
            return cached
        stored = session.get(LedgerCheckpoint, cached.checked_size)
        if stored is None or stored.root_hash != cached.checked_root:
            cached = None
    blocks = list(cached.levels[0]) if cached is not None and cached.levels else []
    start = len(blocks) * PROOF_BLOCK
    fresh = _leaf_hashes(session, start, head.tree_size)
    whole = len(fresh) - len(fresh) % PROOF_BLOCK
    blocks += [subtree_hash(fresh[i : i + PROOF_BLOCK]) for i in range(0, whole, PROOF_BLOCK)]
    candidate = _Pyramid(_levels(blocks), tuple(fresh[whole:]), head.tree_size, head.root_hash)
    # Checked as a verifier would: the blocks and the edge give the checkpoint's root.
    if _subtrees(session, head.tree_size, candidate)(0, head.tree_size) != head.root_hash:
        logger.warning("stored ledger leaves do not reproduce the latest checkpoint")
        return None
    with _TREES_LOCK:
        _PYRAMIDS[_engine(session)] = candidate
    return candidate


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``tree_size`` leaves.

    Reads a block or two of leaves, not the log (see :func:`_subtrees`).
    """
    pyramid = _stored_tree(session, tree_size)
    return inclusion_proof_from(index, tree_size, _subtrees(session, tree_size, pyramid))


def consistency_proof(session: Session, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of ``new_size``."""
    pyramid = _stored_tree(session, new_size)
    return consistency_proof_from(old_size, new_size, _subtrees(session, new_size, pyramid))


def _stored_tree(session: Session, tree_size: int) -> _Pyramid | None:
    """The pyramid, once ``tree_size`` is known to be within the stored log."""
    pyramid = _pyramid(session)
    if pyramid is None or not 0 <= tree_size <= pyramid.checked_size:
        stored = size(session)  # past the checkpoint: one primary-key lookup
        if not 0 <= tree_size <= stored:
            raise ValueError(f"tree size {tree_size} is outside 0..{stored}")
    return pyramid


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
