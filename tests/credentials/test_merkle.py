"""RFC 6962 / RFC 9162 Merkle hashing and proofs, against known answers and properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.credentials.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleLog,
    VerifiedNodes,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "rfc6962-roots.json").read_text())
KNOWN_LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves_hex"]]
KNOWN_ROOTS = [bytes.fromhex(h) for h in VECTORS["roots_hex_by_size"]]
MAX = 20
LEAVES = [f"event-{i}".encode() for i in range(MAX)]
ROOTS = [root(LEAVES[:n]) for n in range(MAX + 1)]


def _flip(b: bytes, at: int = 0) -> bytes:
    return b[:at] + bytes([b[at] ^ 0x01]) + b[at + 1 :]


@pytest.mark.parametrize("n", range(len(KNOWN_ROOTS)))
def test_root_matches_known_answer(n: int) -> None:
    assert root(KNOWN_LEAVES[:n]) == KNOWN_ROOTS[n]


def test_hashing_is_domain_separated() -> None:
    assert KNOWN_ROOTS[0] == EMPTY_ROOT
    assert root([b""]) == leaf_hash(b"") != EMPTY_ROOT
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert root([b"a", b"b"]) == node_hash(a, b)
    # A leaf whose data is two hashes must not collide with the node over them.
    assert leaf_hash(a + b) != node_hash(a, b)


@pytest.mark.parametrize("n", range(MAX + 1))
def test_merkle_log_root_matches_recursive_root(n: int) -> None:
    log = MerkleLog()
    for i, data in enumerate(LEAVES[:n]):
        assert log.append(data) == i
    assert log.size == n
    assert log.root() == ROOTS[n]
    assert MerkleLog(leaf_hash(d) for d in LEAVES[:n]).root() == ROOTS[n]
    for m in range(n + 1):
        assert log.root_at(m) == ROOTS[m]


def test_merkle_log_known_answers() -> None:
    log = MerkleLog()
    assert log.root() == KNOWN_ROOTS[0]
    for n, data in enumerate(KNOWN_LEAVES, start=1):
        log.append(data)
        assert log.root() == KNOWN_ROOTS[n]


def test_compact_range_known_answers_and_copies() -> None:
    """The checkpointer's O(log n) state gives the RFC 6962 roots too."""
    tree = CompactRange()
    assert tree.root() == KNOWN_ROOTS[0]
    for n, data in enumerate(KNOWN_LEAVES, start=1):
        assert tree.append_leaf_hash(leaf_hash(data)) == n - 1
        assert (tree.size, tree.root()) == (n, KNOWN_ROOTS[n])
    grown = tree.copy()
    for data in LEAVES:
        grown.append_leaf_hash(leaf_hash(data))
    assert tree.root() == KNOWN_ROOTS[-1]  # the copy grew, the original did not
    assert grown.root() == root(KNOWN_LEAVES + LEAVES)
    with pytest.raises(ValueError, match="32 bytes"):
        tree.append_leaf_hash(b"short")


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_every_inclusion_proof_verifies_and_tampering_fails(size: int) -> None:
    log = MerkleLog(leaf_hash(d) for d in LEAVES)
    for index in range(size):
        proof = inclusion_proof(index, size, LEAVES)
        assert proof == log.inclusion_proof(index, size)
        leaf = leaf_hash(LEAVES[index])
        assert verify_inclusion(leaf, index, size, proof, ROOTS[size])
        assert not verify_inclusion(_flip(leaf), index, size, proof, ROOTS[size])
        assert not verify_inclusion(leaf, index, size, proof, _flip(ROOTS[size], 31))
        for k in range(len(proof)):
            bad = [*proof[:k], _flip(proof[k], k), *proof[k + 1 :]]
            assert not verify_inclusion(leaf, index, size, bad, ROOTS[size])
        assert not verify_inclusion(
            leaf, index, size, [*proof, proof[0] if proof else leaf], ROOTS[size]
        )
        if proof:
            assert not verify_inclusion(leaf, index, size, proof[:-1], ROOTS[size])
        for wrong in range(size):
            if wrong != index:
                assert not verify_inclusion(leaf, wrong, size, proof, ROOTS[size])
        # A proof binds the tree size only through its shape (the signed checkpoint binds
        # size and root together), so a wrong size must fail whenever the shape differs.
        for wrong_size in range(index + 1, MAX + 1):
            if len(inclusion_proof(index, wrong_size, LEAVES)) != len(proof):
                assert not verify_inclusion(leaf, index, wrong_size, proof, ROOTS[size])
        assert not verify_inclusion(leaf, index, index, proof, ROOTS[size])
        assert not verify_inclusion(leaf, size, size, proof, ROOTS[size])


def _tampered(proof: list[bytes], k: int) -> list[bytes]:
    return [*proof[:k], _flip(proof[k], 7), *proof[k + 1 :]]


@pytest.mark.parametrize("size", range(1, MAX + 1))
@pytest.mark.parametrize("levels", [1, 2, 3, 10])
def test_verified_nodes_answer_as_verify_inclusion_does(size: int, levels: int) -> None:
    """Every proof, good or tampered in any way, in an order that warms the cache
    first: the cached answer is verify_inclusion's, whatever the cache holds."""
    nodes = VerifiedNodes(size, ROOTS[size], levels=levels)
    for index in [*range(size), *reversed(range(size))]:
        proof = inclusion_proof(index, size, LEAVES)
        leaf = leaf_hash(LEAVES[index])
        candidates = [(leaf, index, proof), (_flip(leaf), index, proof)]
        candidates += [(leaf, index, _tampered(proof, k)) for k in range(len(proof))]
        candidates += [(leaf, wrong, proof) for wrong in (-1, *range(size + 1)) if wrong != index]
        candidates += [(leaf, index, proof[:-1]), (leaf, index, [*proof, leaf])]
        for args in candidates:
            assert nodes.verify(*args) == verify_inclusion(*args[:2], size, args[2], ROOTS[size])
        assert nodes.verify(leaf, index, proof)
    assert (len(nodes) > 0) == (size > 1)  # a tree of one leaf has no interior node
    assert len(nodes) <= 2**levels - 1


def _wide_tree(size: int) -> tuple[list[bytes], bytes]:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    return leaves, MerkleLog(leaves).root()


def test_a_proof_below_a_verified_node_is_still_checked_up_to_it() -> None:
    leaves, head = _wide_tree(1000)
    log = MerkleLog(leaves)
    nodes = VerifiedNodes(1000, head, levels=5)
    assert nodes.verify(leaves[0], 0, log.inclusion_proof(0))
    learnt = len(nodes)
    assert learnt == 5  # levels 6 to 10 of leaf 0's path
    # Leaf 1 meets leaf 0's path at level 1, but nothing is kept below level 6: a
    # tampered sibling below the first verified node it meets is refused, with
    # any of its proof items wrong, and so is a wrong leaf.
    proof = log.inclusion_proof(1)
    for k in range(6):
        assert not nodes.verify(leaves[1], 1, _tampered(proof, k))
    assert not nodes.verify(leaves[2], 1, proof)
    assert nodes.verify(leaves[1], 1, proof)
    assert len(nodes) == learnt  # it met leaf 0's node at level 6


def test_a_tampered_sibling_above_a_verified_node_is_refused_as_without_cache() -> None:
    leaves, head = _wide_tree(1000)
    log = MerkleLog(leaves)
    nodes = VerifiedNodes(1000, head, levels=5)
    assert nodes.verify(leaves[0], 0, log.inclusion_proof(0))
    proof = log.inclusion_proof(1)
    for k in range(6, len(proof)):
        assert not nodes.verify(leaves[1], 1, _tampered(proof, k))
    assert nodes.verify(leaves[1], 1, proof)


def test_a_wrong_index_is_refused_though_its_path_meets_a_verified_node() -> None:
    leaves, head = _wide_tree(1000)
    log = MerkleLog(leaves)
    nodes = VerifiedNodes(1000, head, levels=5)
    for index in range(0, 64, 3):
        assert nodes.verify(leaves[index], index, log.inclusion_proof(index))
    # Leaf 5's own proof under the index of another leaf of the same 64-leaf block:
    # the block's node is verified, but the climb to it goes the wrong way.
    proof = log.inclusion_proof(5)
    for wrong in (4, 6, 7, 13, 37, 5 + 64, 5 + 128, 5 + 512):
        assert not nodes.verify(leaves[5], wrong, proof)
    assert nodes.verify(leaves[5], 5, proof)


def test_a_verified_hash_at_another_position_is_not_accepted() -> None:
    """A node's hash is trusted only at the position it was proven at."""
    leaves, head = _wide_tree(1024)
    log = MerkleLog(leaves)
    nodes = VerifiedNodes(1024, head, levels=5)
    proof = log.inclusion_proof(0)
    assert nodes.verify(leaves[0], 0, proof)
    # Leaf 0's path is verified from level 6 (the node over leaves 0..63) up. Leaf
    # 0's hash and proof under index 64 climb the same way to that very hash, but
    # at level 6 index 1 (the node over leaves 64..127), where nothing is verified;
    # with leaf 0's tail or with the true tail of that position, it is refused.
    assert not nodes.verify(leaves[0], 64, proof)
    assert not nodes.verify(leaves[0], 64, [*proof[:6], *log.inclusion_proof(64)[6:]])
    assert not nodes.verify(leaves[0], 128, proof)  # level 7, index 1
    # The verified node's hash, presented as a leaf hash, is just a leaf.
    assert not nodes.verify(subtree_hash(leaves[:64]), 0, proof)
    assert nodes.verify(leaves[64], 64, log.inclusion_proof(64))


def test_verified_nodes_keep_only_immutable_hashes() -> None:
    leaves, head = _wide_tree(1000)
    nodes = VerifiedNodes(1000, head, levels=10)
    mutable = [bytearray(h) for h in MerkleLog(leaves).inclusion_proof(3)]
    assert nodes.verify(leaves[3], 3, mutable)  # bytes-like, as verify_inclusion takes it
    assert len(nodes) == 0
    mutable[-1][0] ^= 1  # had it been kept, the cache would now vouch for this tail
    assert not nodes.verify(leaves[3], 3, mutable)


def test_verified_nodes_do_not_leak_across_tree_heads() -> None:
    leaves, head = _wide_tree(1000)
    grown = MerkleLog(leaves)
    grown.append_leaf_hash(leaf_hash(b"one more"))
    nodes = VerifiedNodes(1000, head, levels=10)
    assert nodes.verify(leaves[3], 3, MerkleLog(leaves).inclusion_proof(3))
    # A proof for the grown tree fails against the cached one's head, while a cache
    # of the grown head learns from scratch.
    proof = grown.inclusion_proof(3)
    assert not nodes.verify(leaves[3], 3, proof)
    other = VerifiedNodes(1001, grown.root(), levels=10)
    assert len(other) == 0
    assert other.verify(leaves[3], 3, proof)
    assert not other.verify(leaves[3], 3, MerkleLog(leaves).inclusion_proof(3))


@pytest.mark.parametrize(("size", "kept"), [(4096, 8 + 4 + 2 + 1), (3000, 6 + 3 + 1 + 1)])
def test_verified_nodes_stay_bounded(size: int, kept: int) -> None:
    """Only the top levels are kept: at 4 levels, a perfect tree of 4096 leaves keeps
    levels 9 to 12 (root included); at 3000 leaves, level 11's rightmost node has
    no sibling and is the same hash as its child, so it is not a node of its own."""
    leaves, head = _wide_tree(size)
    log = MerkleLog(leaves)
    nodes = VerifiedNodes(size, head, levels=4)
    for index in range(0, size, 7):
        assert nodes.verify(leaves[index], index, log.inclusion_proof(index))
    assert len(nodes) == kept <= 2**4 - 1


@pytest.mark.parametrize("new", range(1, MAX + 1))
def test_every_consistency_proof_verifies_and_a_wrong_root_fails(new: int) -> None:
    log = MerkleLog(leaf_hash(d) for d in LEAVES)
    for old in range(1, new + 1):
        proof = consistency_proof(old, new, LEAVES)
        assert proof == log.consistency_proof(old, new)
        assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
        assert not verify_consistency(old, new, _flip(ROOTS[old]), ROOTS[new], proof)
        assert not verify_consistency(old, new, ROOTS[old], _flip(ROOTS[new]), proof)
        # A forked history: same old size, different old leaves.
        forked = root([b"forged", *LEAVES[1:old]])
        assert not verify_consistency(old, new, forked, ROOTS[new], proof)
        for k in range(len(proof)):
            bad = [*proof[:k], _flip(proof[k]), *proof[k + 1 :]]
            assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], bad)
        if old < new:
            assert proof
            assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], [])
            assert not verify_consistency(new, old, ROOTS[new], ROOTS[old], proof)
            assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], [*proof, proof[0]])
        else:
            assert proof == []


def test_consistency_with_the_empty_tree() -> None:
    assert consistency_proof(0, 5, LEAVES) == []
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert not verify_consistency(0, 5, ROOTS[1], ROOTS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [ROOTS[1]])


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (inclusion_proof, (3, 3, LEAVES)),
        (inclusion_proof, (-1, 3, LEAVES)),
        (inclusion_proof, (0, MAX + 1, LEAVES)),
        (consistency_proof, (4, 3, LEAVES)),
        (consistency_proof, (1, MAX + 1, LEAVES)),
    ],
)
def test_out_of_range_proof_requests_raise(call: object, args: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="outside"):
        call(*args)  # type: ignore[operator]


def test_malformed_hashes_do_not_verify() -> None:
    leaf = leaf_hash(LEAVES[0])
    proof = inclusion_proof(0, 2, LEAVES)
    assert not verify_inclusion(leaf[:31], 0, 2, proof, ROOTS[2])
    assert not verify_inclusion(leaf, 0, 2, [proof[0] + b"\x00"], ROOTS[2])
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleLog().append_leaf_hash(b"short")


@given(
    leaves=st.lists(st.binary(max_size=16), min_size=1, max_size=64),
    data=st.data(),
)
def test_random_inclusion_and_consistency_proofs_verify(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old")
    root_hash = root(leaves[:size])
    proof = inclusion_proof(index, size, leaves)
    assert verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root_hash)
    assert verify_consistency(
        old, size, root(leaves[:old]), root_hash, consistency_proof(old, size, leaves)
    )
    log = MerkleLog()
    for d in leaves[:size]:
        log.append(d)
    assert log.root() == root_hash


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_proofs_from_subtree_hashes_equal_the_rfc_recursion(size: int) -> None:
    """Stores answer proofs from ranges of leaves; the ranges asked are RFC 9162's."""
    hashes = [leaf_hash(d) for d in LEAVES]
    asked: list[tuple[int, int]] = []

    def subtree(start: int, end: int) -> bytes:
        asked.append((start, end))
        return subtree_hash(hashes[start:end])

    for index in range(size):
        assert inclusion_proof_from(index, size, subtree) == inclusion_proof(index, size, LEAVES)
    for old in range(size + 1):
        assert consistency_proof_from(old, size, subtree) == consistency_proof(old, size, LEAVES)
    assert all(0 <= start < end <= size for start, end in asked)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof_from(size, size, subtree)
    with pytest.raises(ValueError, match="outside"):
        consistency_proof_from(size + 1, size, subtree)
