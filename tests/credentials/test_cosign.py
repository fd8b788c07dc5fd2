"""C2SP tlog-cosignature: witnesses cosign consistent checkpoints only; quorum counting."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    LedgerSignatureInvalid,
    NoteSigner,
    parse_signed_note,
    sign_checkpoint,
    verify_note,
)
from realname.credentials.cosign import (
    CosignatureSigner,
    CosignatureVerifier,
    LedgerInconsistent,
    Witness,
    cosigned_message,
    verify_quorum,
)
from realname.credentials.merkle import MerkleLog

ORIGIN = "ledger.realname.example/log"
NOW = 1_700_000_000


def _witness_signer(name: str) -> CosignatureSigner:
    return CosignatureSigner(name, Ed25519PrivateKey.generate())


class Log:
    """A tiny log operator: a Merkle log plus its checkpoint key."""

    def __init__(self) -> None:
        self.tree = MerkleLog()
        self.signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())

    def grow(self, n: int, tag: str = "event") -> None:
        for i in range(n):
            self.tree.append(f"{tag}-{self.tree.size + i}".encode())

    def checkpoint(self) -> str:
        return sign_checkpoint(Checkpoint(ORIGIN, self.tree.size, self.tree.root()), self.signer)


@pytest.fixture
def log() -> Log:
    return Log()


def test_cosignature_wire_format(log: Log) -> None:
    log.grow(3)
    signer = _witness_signer("witness.example/w1")
    w = Witness(signer, {ORIGIN: log.signer.verifier})
    cosigned = w.add_checkpoint(log.checkpoint(), [], now=NOW)
    body = parse_signed_note(cosigned).text
    _, cosig = parse_signed_note(cosigned).signatures
    pub = signer.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert cosig.name == "witness.example/w1"
    assert cosig.key_id == hashlib.sha256(b"witness.example/w1\n\x04" + pub).digest()[:4]
    assert len(cosig.signature) == 72
    assert int.from_bytes(cosig.signature[:8], "big") == NOW
    assert cosigned_message(body, NOW).startswith(
        f"cosignature/v1\ntime {NOW}\n{ORIGIN}\n".encode()
    )
    signer.private_key.public_key().verify(cosig.signature[8:], cosigned_message(body, NOW))
    line = cosigned.splitlines()[-1]
    assert (
        line
        == f"\u2014 witness.example/w1 {base64.b64encode(cosig.key_id + cosig.signature).decode()}"
    )
    # The log's own signature is still there and still valid.
    assert verify_note(cosigned, [log.signer.verifier]) == {ORIGIN}


def test_witness_cosigns_a_consistent_history(log: Log) -> None:
    w = Witness(_witness_signer("witness.example/w1"), {ORIGIN: log.signer.verifier})
    log.grow(5)
    w.add_checkpoint(log.checkpoint(), [], now=NOW)
    assert w.latest(ORIGIN) == (5, log.tree.root())
    log.grow(7)
    cosigned = w.add_checkpoint(log.checkpoint(), log.tree.consistency_proof(5), now=NOW + 1)
    assert w.latest(ORIGIN) == (12, log.tree.root())
    assert verify_quorum(cosigned, [w.signer.verifier], 1)
    # Seeing the same checkpoint again is consistent with an empty proof.
    w.add_checkpoint(log.checkpoint(), [], now=NOW + 2)


def test_witness_refuses_a_fork(log: Log) -> None:
    w = Witness(_witness_signer("witness.example/w1"), {ORIGIN: log.signer.verifier})
    log.grow(4)
    w.add_checkpoint(log.checkpoint(), [], now=NOW)

    # The operator rewrites history: same key, different leaves, a bigger tree.
    fork = Log()
    fork.signer = log.signer
    fork.grow(6, tag="rewritten")
    with pytest.raises(LedgerInconsistent) as info:
        w.add_checkpoint(fork.checkpoint(), fork.tree.consistency_proof(4), now=NOW + 1)
    assert info.value.code == "LEDGER_INCONSISTENT"
    assert info.value.http_status == 409
    assert info.value.details == {"origin": ORIGIN, "old_size": 4, "new_size": 6}
    # The honest proof for the honest log does not rescue the forked root either.
    log.grow(2)
    with pytest.raises(LedgerInconsistent):
        w.add_checkpoint(fork.checkpoint(), log.tree.consistency_proof(4), now=NOW + 1)
    # The witness's view did not move.
    assert w.latest(ORIGIN) == (4, log.tree.root_at(4))


def test_witness_refuses_rollback_and_same_size_split_view(log: Log) -> None:
    w = Witness(_witness_signer("witness.example/w1"), {ORIGIN: log.signer.verifier})
    log.grow(3)
    older = log.checkpoint()
    log.grow(3)
    w.add_checkpoint(log.checkpoint(), [], now=NOW)
    with pytest.raises(LedgerInconsistent):
        w.add_checkpoint(older, [], now=NOW)
    split = Log()
    split.signer = log.signer
    split.grow(6, tag="other")
    with pytest.raises(LedgerInconsistent):
        w.add_checkpoint(split.checkpoint(), [], now=NOW)


def test_witness_refuses_unsigned_or_unknown_logs(log: Log) -> None:
    w = Witness(_witness_signer("witness.example/w1"), {ORIGIN: log.signer.verifier})
    log.grow(2)
    with pytest.raises(LedgerSignatureInvalid):
        w.add_checkpoint(log.checkpoint().replace("\n2\n", "\n3\n", 1), [], now=NOW)
    other = NoteSigner("other.example/log", Ed25519PrivateKey.generate())
    with pytest.raises(LedgerNoteMalformed):
        w.add_checkpoint(
            sign_checkpoint(Checkpoint("other.example/log", 2, log.tree.root()), other), []
        )
    assert w.latest(ORIGIN)[0] == 0


def test_quorum_counts_distinct_valid_witnesses(log: Log) -> None:
    witnesses = [
        Witness(_witness_signer(f"witness.example/w{i}"), {ORIGIN: log.signer.verifier})
        for i in range(3)
    ]
    keys = [w.signer.verifier for w in witnesses]
    log.grow(4)
    note = log.checkpoint()
    assert not verify_quorum(note, keys, 1)
    note = witnesses[0].add_checkpoint(note, [], now=NOW)
    note = witnesses[1].add_checkpoint(note, [], now=NOW)
    assert verify_quorum(note, keys, 2)
    assert not verify_quorum(note, keys, 3)
    # The same witness cosigning twice still counts once.
    again = witnesses[0].add_checkpoint(note, [], now=NOW + 5)
    assert not verify_quorum(again, keys, 3)
    # A cosignature from a key not on the list, or a log signature, does not count.
    assert not verify_quorum(note, keys[2:], 1)
    with pytest.raises(TypeError, match="cosignature"):
        verify_quorum(note, [log.signer.verifier], 1)  # type: ignore[list-item]
    # A cosignature by a witness key under the wrong name does not count.
    renamed = CosignatureVerifier("witness.example/w9", keys[0].public_key)
    assert not verify_quorum(note, [renamed], 1)
    with pytest.raises(ValueError, match="at least one"):
        verify_quorum(note, keys, 0)


def test_tampered_cosignature_does_not_count(log: Log) -> None:
    w = Witness(_witness_signer("witness.example/w1"), {ORIGIN: log.signer.verifier})
    log.grow(1)
    note = parse_signed_note(w.add_checkpoint(log.checkpoint(), [], now=NOW))
    verifier = w.signer.verifier
    cosig = note.signatures[1]
    changed_time = (NOW + 1).to_bytes(8, "big") + cosig.signature[8:]
    assert verifier.verify(note.text, cosig.signature)
    assert not verifier.verify(note.text, changed_time)
    assert not verifier.verify(note.text, cosig.signature[:-1])
    assert not verifier.verify(note.text + "x\n", cosig.signature)
    assert not verifier.verify(note.text, b"\xff" * 8 + cosig.signature[8:])
    with pytest.raises(ValueError, match="timestamp"):
        w.signer.cosign(note.text, -1)
