"""Merkle tree hashing, inclusion and consistency proofs (RFC 6962 §2.1, RFC 9162 §2.1).

The ledger of credential issuance and revocation events is an append-only Merkle log.
Leaves and interior nodes are hashed with distinct one-byte prefixes so that a leaf
can never be passed off as an interior node (RFC 9162 §2.1.1)::

    leaf_hash(d)    = SHA-256(0x00 || d)
    node_hash(l, r) = SHA-256(0x01 || l || r)

The tree over ``n`` leaves splits at the largest power of two smaller than ``n``; the
empty tree hashes to ``SHA-256("")``.

Why hand-written: the algorithms are short, fully specified, and checked here against
known answers from transparency-dev/merkle. A search of the PyPI name list
(``/work/.library/env/packages/pypi.tsv``, about 130 packages mentioning "Merkle")
found mostly application-specific or blockchain trees with other hashing rules; the
few that claim RFC 6962/9162 or C2SP support (``attestroot``, ``aics-tlog``,
``csoai-scitt-ts``) are a few months old, single-maintainer and not established, so
a ledger whose purpose is tamper evidence should not depend on them.

The functions below take raw leaf data (the RFC's ``D[n]``). :class:`MerkleLog` keeps
leaf *hashes* in memory and the compact range of perfect-subtree roots, so appending
and reading the current root cost O(log n). The database-backed log will store the
node hashes (leaf hashes and interior nodes by level and index) instead of this list,
so proofs can be read without rehashing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleLog",
    "SubtreeHash",
    "VerifiedNodes",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_NODE_HASH = hashlib.sha256(_NODE_PREFIX)  # only ever copied, never updated


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: ``SHA-256(0x00 || data)`` (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: ``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash over a list of leaf hashes (RFC 9162 §2.1.1)."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def subtree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash over leaf *hashes* (RFC 9162 §2.1.1); see :func:`root`."""
    return _mth(leaf_hashes)


def _path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) over leaf hashes (RFC 9162 §2.1.3.1)."""
    n = len(hashes)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, hashes[:k]), _mth(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _mth(hashes[:k])]


def _subproof(m: int, hashes: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) over leaf hashes (RFC 9162 §2.1.4.1)."""
    n = len(hashes)
    if m == n:
        return [] if whole else [_mth(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], whole), _mth(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _mth(hashes[:k])]


#: ``MTH(D[start:end])`` for ``0 <= start < end``: the hash of a run of leaves.
SubtreeHash = Callable[[int, int], bytes]


def inclusion_proof_from(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[0:size]) with every subtree hash asked of ``subtree(start, end)``.

    The same recursion as :func:`inclusion_proof`, over leaf positions instead of a
    list: a store that keeps (or caches) subtree hashes answers a proof with
    O(log n) of them instead of rehashing every leaf. The ranges asked for are
    those of RFC 9162's recursion: a left part is always a perfect subtree aligned
    on its size; a right part ending at ``size`` may not be.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside 0..{size - 1}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()  # the recursion lists the deepest sibling first
    return path


def consistency_proof_from(old_size: int, new_size: int, subtree: SubtreeHash) -> list[bytes]:
    """SUBPROOF(old_size, D[0:new_size], true), asked of ``subtree``.

    See :func:`inclusion_proof_from`; the proof is empty when ``old_size`` is 0 or
    equals ``new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} is outside 0..{new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    m, start, end, whole = old_size, 0, new_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            m, start, whole = m - k, start + k, False
    if not whole:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def _check_size(size: int, available: int) -> None:
    if size < 0 or size > available:
        raise ValueError(f"tree size {size} is outside 0..{available}")


def _inclusion_proof(index: int, size: int, hashes: Sequence[bytes]) -> list[bytes]:
    _check_size(size, len(hashes))
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside 0..{size - 1}")
    return _path(index, hashes[:size])


def _consistency_proof(old_size: int, new_size: int, hashes: Sequence[bytes]) -> list[bytes]:
    _check_size(new_size, len(hashes))
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} is outside 0..{new_size}")
    if old_size in (0, new_size):
        # Every tree is consistent with the empty tree and with itself: no hashes needed.
        return []
    return _subproof(old_size, hashes[:new_size], True)


def root(leaves: Iterable[bytes]) -> bytes:
    """The root hash of the tree over raw ``leaves`` (RFC 9162 §2.1.1)."""
    return _mth([leaf_hash(d) for d in leaves])


def inclusion_proof(index: int, size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` raw leaves.

    RFC 9162 §2.1.3.1. Raises ``ValueError`` when ``index`` or ``size`` is out of range.
    """
    return _inclusion_proof(index, size, [leaf_hash(d) for d in leaves[:size]])


def consistency_proof(old_size: int, new_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the ``new_size`` one.

    RFC 9162 §2.1.4.1. The proof is empty when ``old_size`` is 0 or equals ``new_size``.
    """
    return _consistency_proof(old_size, new_size, [leaf_hash(d) for d in leaves[:new_size]])


def _well_formed(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``root_hash``.

    The verification algorithm of RFC 9162 §2.1.3.2, in the equivalent closed form
    that transparency-dev/merkle uses: the path has ``inner`` hashes below the point
    where leaf ``index`` and leaf ``size - 1`` part (combined on the side the index
    bit says) and then ``border`` hashes, one per set bit of the index above that
    point, all on the left. It runs on every presentation, so it is two plain loops
    with no per-level bookkeeping. ``leaf`` is the leaf *hash* (see :func:`leaf_hash`).
    Malformed input answers ``False``.
    """
    if not (
        0 <= index < size
        and isinstance(leaf, bytes)
        and len(leaf) == HASH_SIZE
        and isinstance(root_hash, bytes)
        and len(root_hash) == HASH_SIZE
    ):
        return False
    inner = (index ^ (size - 1)).bit_length()
    if len(proof) != inner + (index >> inner).bit_count():
        return False
    r = leaf
    # node_hash inlined, each level from a copy of a hash already fed the 0x01
    # prefix: copying a context is cheaper than creating and initialising one,
    # and spares the two concatenations.
    node = _NODE_HASH.copy
    try:
        # Every length in one C-level pass rather than a check per level.
        if proof and {*map(len, proof)} != {HASH_SIZE}:
            return False
        # Below ``inner`` the index bit says the side; above it, all on the left.
        for p in proof[:inner]:
            h = node()
            if index & 1:
                h.update(p)
                h.update(r)
            else:
                h.update(r)
                h.update(p)
            r = h.digest()
            index >>= 1
        for p in proof[inner:]:
            h = node()
            h.update(p)
            h.update(r)
            r = h.digest()
    except TypeError:  # a proof item that is not bytes
        return False
    return hmac.compare_digest(r, root_hash)


class VerifiedNodes:
    """Inclusion proofs against one tree head, remembering the nodes already proven.

    Every leaf of a tree shares the top of the tree with every other, so the
    inclusion proofs a verifier checks against one checkpoint climb through the same
    few nodes near the root again and again. Once a proof has reached ``root_hash``,
    each interior node it computed is known to lead there, by the rest of that
    proof. :meth:`verify` remembers such nodes by their position — level (0 for
    leaves) and index at that level, RFC 9162's tree coordinates, which for a fixed
    ``size`` name exactly one range of leaves — together with the remaining proof
    (the *tail*) that took them to the root. A later proof that computes, at the
    same position, the same hash and carries the same tail would climb exactly the
    same way from there, so it stops and accepts.

    Why this is safe: the answer is always the one :func:`verify_inclusion` gives
    for the same input. Which way each remaining level combines (sibling on the left
    or right, and which levels have a sibling at all) depends only on the position
    and ``size``; from the same hash at the same position, the same tail computes
    the same hashes as when it was first checked, ending at ``root_hash``. So the
    cache adds no assumption to the one every inclusion proof rests on (SHA-256's
    collision resistance, RFC 9162 §2.1.3): a forged proof is refused here exactly
    when it is refused without the cache. Without the tail comparison, stopping
    would still be sound under collision resistance (the proof's lower part and
    the remembered upper part form a valid proof for the leaf) but would accept
    proofs whose upper hashes are garbage, which :func:`verify_inclusion` refuses;
    one tuple comparison keeps the two answers identical. A hash that differs from
    the remembered one at its position, or a different tail, just goes on climbing
    to the root as without the cache. Every proof still hashes at least its lowest
    interior node (nothing is kept at level 0), and nodes are learnt only from
    proofs that reached ``root_hash``, so the cache belongs to one tree head: the
    caller keeps one per verified checkpoint, never shared across checkpoints.

    Memory is bounded by keeping only the top ``levels`` levels (ending at the
    root): a tree of ``size <= 2**b`` has at most ``2**(b - l)`` nodes at level
    ``l``, so at most ``2**levels - 1`` nodes are ever kept (at the default 10,
    at most about 0.4 MB with the hashes of their tails), and the lower levels,
    which few leaves share, are never looked up.
    """

    __slots__ = ("_floor", "_nodes", "root_hash", "size")

    def __init__(self, size: int, root_hash: bytes, levels: int = 10) -> None:
        self.size = size
        self.root_hash = root_hash
        # The root is at level (size - 1).bit_length(); keep that one and the
        # ``levels - 1`` below it, and never level 0 (the leaves themselves).
        self._floor = max(1, (size - 1).bit_length() + 1 - levels)
        # (index << 6 | level) -> (hash, tail of the proof from that node up).
        self._nodes: dict[int, tuple[bytes, tuple[bytes, ...]]] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def verify(self, leaf: bytes, index: int, proof: Sequence[bytes]) -> bool:
        """:func:`verify_inclusion` of leaf hash ``leaf`` at ``index`` in this tree.

        The same checks in the same closed form, plus the stop at a remembered node
        (see the class docstring); the answer is the same for every input.
        """
        size = self.size
        if not (0 <= index < size and isinstance(leaf, bytes) and len(leaf) == HASH_SIZE):
            return False
        inner = (index ^ (size - 1)).bit_length()
        if len(proof) != inner + (index >> inner).bit_count():
            return False
        proof = tuple(proof)  # tails are compared as tuples
        nodes, floor = self._nodes, self._floor
        node = _NODE_HASH.copy
        r, i = leaf, index
        # The items that compute nodes below the floor, where nothing is kept: the
        # plain loop of verify_inclusion, with no position bookkeeping.
        low = min(inner, floor - 1)
        learnt: list[tuple[int, bytes, int]] = []
        try:
            if proof and {*map(len, proof)} != {HASH_SIZE}:
                return False
            for p in proof[:low]:
                h = node()
                if i & 1:
                    h.update(p)
                    h.update(r)
                else:
                    h.update(r)
                    h.update(p)
                r = h.digest()
                i >>= 1
            # From here ``i`` is the index at ``level`` of the node computed last.
            level = low
            for k in range(low, len(proof)):
                p = proof[k]
                h = node()
                if k < inner:
                    if i & 1:
                        h.update(p)
                        h.update(r)
                    else:
                        h.update(r)
                        h.update(p)
                    i >>= 1
                    level += 1
                else:
                    # Above ``inner`` the node is the tree's rightmost at its level:
                    # as a left child (even index) it has no sibling and is carried
                    # up unchanged, so climb to its lowest set bit and one above.
                    skip = (i & -i).bit_length()
                    i >>= skip
                    level += skip
                    h.update(p)
                    h.update(r)
                r = h.digest()
                if level >= floor:
                    key = i << 6 | level
                    known = nodes.get(key)
                    if known is not None and known[0] == r and known[1] == proof[k + 1 :]:
                        # The nodes learnt below share the known tail (and its
                        # hashes) rather than keep this proof's copies alive.
                        top, tail = k + 1, known[1]
                        break
                    learnt.append((key, r, k))
            else:
                if not hmac.compare_digest(r, self.root_hash):
                    return False
                top, tail = len(proof), ()
        except TypeError:  # a proof item that is not bytes
            return False
        # Only immutable hashes are kept: a bytearray item (which hashes and
        # compares like bytes) could change after the check it passed.
        if learnt and {*map(type, proof[:top])} == {bytes}:
            for key, h_, k in learnt:
                nodes[key] = (h_, proof[k + 1 : top] + tail)
        return True


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``old_root`` is a prefix of the tree ``new_root``.

    The verification algorithm of RFC 9162 §2.1.4.2. An old size of 0 is consistent
    with any tree, provided ``old_root`` is the empty-tree hash and the proof is empty.
    Malformed input answers ``False``.
    """
    if not 0 <= old_size <= new_size or not _well_formed(old_root, new_root, *proof):
        return False
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its root starts the path.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


class MerkleLog:
    """An in-memory append-only Merkle log.

    It keeps the *compact range* of the tree: the roots of the perfect subtrees that
    the binary decomposition of the size splits the leaves into, left to right. An
    append merges equal-sized subtrees like a binary counter carries, and the root
    folds at most ``log2(n)`` of them, so neither rehashes the whole tree.

    It also keeps every leaf hash so it can answer proofs for any past size; the
    database-backed ledger will persist node hashes instead of recomputing subtrees.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._leaves: list[bytes] = []
        # (number of leaves, subtree root) pairs, sizes strictly decreasing powers of two.
        self._range: list[tuple[int, bytes]] = []
        for h in leaf_hashes:
            self.append_leaf_hash(h)

    @property
    def size(self) -> int:
        return len(self._leaves)

    def append(self, data: bytes) -> int:
        """Append one raw entry; answer its leaf index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append one leaf hash (see :func:`leaf_hash`); answer its leaf index."""
        if not _well_formed(leaf):
            raise ValueError("a leaf hash is 32 bytes")
        index = len(self._leaves)
        self._leaves.append(leaf)
        count, h = 1, leaf
        while self._range and self._range[-1][0] == count:
            left_count, left = self._range.pop()
            count, h = left_count + count, node_hash(left, h)
        self._range.append((count, h))
        return index

    def leaf_hash(self, index: int) -> bytes:
        return self._leaves[index]

    def root(self) -> bytes:
        """The current root, folded from the compact range in O(log n)."""
        if not self._range:
            return EMPTY_ROOT
        r = self._range[-1][1]
        for _, h in reversed(self._range[:-1]):
            r = node_hash(h, r)
        return r

    def root_at(self, size: int) -> bytes:
        """The root of the tree as it was at ``size`` leaves (recomputed: O(size))."""
        _check_size(size, self.size)
        return self.root() if size == self.size else _mth(self._leaves[:size])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree at ``size`` (default: current)."""
        return _inclusion_proof(index, self.size if size is None else size, self._leaves)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The consistency proof from ``old_size`` to ``new_size`` (default: current)."""
        new = self.size if new_size is None else new_size
        return _consistency_proof(old_size, new, self._leaves)


class CompactRange:
    """Only the right edge of the tree: the roots of its perfect subtrees.

    Enough to append and to compute the root in O(log n) time and memory, without
    keeping the leaves — what a log needs to sign a checkpoint every second while its
    leaves live in the database. Same folding as :class:`MerkleLog`.
    """

    def __init__(self, size: int = 0, nodes: Iterable[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self._range: list[tuple[int, bytes]] = list(nodes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self._range)

    def append_leaf_hash(self, leaf: bytes) -> int:
        if not _well_formed(leaf):
            raise ValueError("a leaf hash is 32 bytes")
        index = self.size
        self.size += 1
        count, h = 1, leaf
        while self._range and self._range[-1][0] == count:
            left_count, left = self._range.pop()
            count, h = left_count + count, node_hash(left, h)
        self._range.append((count, h))
        return index

    def root(self) -> bytes:
        if not self._range:
            return EMPTY_ROOT
        r = self._range[-1][1]
        for _, h in reversed(self._range[:-1]):
            r = node_hash(h, r)
        return r
