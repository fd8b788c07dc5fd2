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
