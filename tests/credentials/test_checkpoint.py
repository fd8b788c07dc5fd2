"""C2SP tlog-checkpoint and signed-note: known answers, round trips, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    LedgerSignatureInvalid,
    NoteSigner,
    NoteVerifier,
    key_id,
    open_checkpoint,
    parse_signed_note,
    sign_checkpoint,
    verify_note,
)
from realname.credentials.merkle import root
from realname.errors import RealnameError

GO = json.loads((Path(__file__).parent / "data" / "signed-note-go.json").read_text())
ORIGIN = "ledger.realname.example/log"
ROOT = root([b"a", b"b", b"c"])


@pytest.fixture
def log_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


def test_go_reference_key_ids_and_signature_are_reproduced() -> None:
    signer = NoteSigner.from_skey(GO["skey"])
    verifier = NoteVerifier.from_vkey(GO["vkey"])
    assert signer.verifier.vkey() == verifier.vkey() == GO["vkey"]
    assert verifier.key_id.hex() == "c74f20a3"
    # Ed25519 is deterministic (RFC 8032), so the note must match byte for byte.
    signed = parse_signed_note(GO["signed_note"])
    assert signed.text == GO["text"]
    assert signed.signatures[0].signature == signer.sign(GO["text"]).signature
    assert signed.render() == GO["signed_note"]
    assert verify_note(GO["signed_note"], [verifier]) == {"PeterNeumann"}


def test_key_id_derivation() -> None:
    pub = bytes(range(32))
    expected = hashlib.sha256(b"example.com/log\n\x01" + pub).digest()[:4]
    assert key_id("example.com/log", 0x01, pub) == expected


def test_checkpoint_body_format_and_parse() -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT, ("ext one",))
    body = cp.body()
    assert body == f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\next one\n"
    assert Checkpoint.parse(body) == cp


@pytest.mark.parametrize(
    "body",
    [
        "",
        "origin\n3\n",
        f"origin\n03\n{base64.b64encode(ROOT).decode()}\n",
        f"origin\n-3\n{base64.b64encode(ROOT).decode()}\n",
        f"origin\n3\n{base64.b64encode(ROOT).decode()}",
        f"origin\n3\n{base64.b64encode(ROOT[:31]).decode()}\n",
        "origin\n3\nnot base64!\n",
        f"\n3\n{base64.b64encode(ROOT).decode()}\n",
        f"origin\n3\n{base64.b64encode(ROOT).decode()}\n\n",
    ],
)
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(LedgerNoteMalformed) as info:
        Checkpoint.parse(body)
    assert isinstance(info.value, RealnameError)
    assert info.value.code == "LEDGER_NOTE_MALFORMED"


def test_sign_parse_verify_round_trip(log_signer: NoteSigner) -> None:
    cp = Checkpoint(ORIGIN, 3, ROOT)
    note = sign_checkpoint(cp, log_signer)
    assert note.startswith(cp.body() + "\n\u2014 " + ORIGIN + " ")
    parsed = parse_signed_note(note)
    assert parsed.text == cp.body()
    (sig,) = parsed.signatures
    assert sig.key_id == log_signer.verifier.key_id
    assert len(sig.signature) == 64
    assert verify_note(note, [log_signer.verifier]) == {ORIGIN}
    assert open_checkpoint(note, log_signer.verifier) == cp
    # The verifier key string round-trips too.
    assert NoteVerifier.from_vkey(log_signer.verifier.vkey()) == log_signer.verifier


def test_tampered_body_or_wrong_key_fails(log_signer: NoteSigner) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), log_signer)
    tampered = note.replace("\n3\n", "\n4\n", 1)
    assert verify_note(tampered, [log_signer.verifier]) == frozenset()
    with pytest.raises(LedgerSignatureInvalid) as info:
        open_checkpoint(tampered, log_signer.verifier)
    assert info.value.code == "LEDGER_SIGNATURE_INVALID"

    impostor = NoteVerifier(ORIGIN, Ed25519PrivateKey.generate().public_key())
    assert verify_note(note, [impostor]) == frozenset()
    with pytest.raises(LedgerSignatureInvalid):
        open_checkpoint(note, impostor)


def test_unknown_signatures_are_ignored_and_each_key_counts_once(log_signer: NoteSigner) -> None:
    other = NoteSigner("other.example/key", Ed25519PrivateKey.generate())
    body = Checkpoint(ORIGIN, 3, ROOT).body()
    note = parse_signed_note(sign_checkpoint(body, log_signer))
    doubled = type(note)(note.text, (*note.signatures, other.sign(body), *note.signatures))
    assert verify_note(doubled.render(), [log_signer.verifier]) == {ORIGIN}
    both = [log_signer.verifier, other.verifier]
    assert verify_note(doubled.render(), both) == {ORIGIN, "other.example/key"}


def test_checkpoint_signed_under_another_name_is_refused() -> None:
    signer = NoteSigner("someone.else/log", Ed25519PrivateKey.generate())
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, ROOT), signer)
    with pytest.raises(LedgerNoteMalformed):
        open_checkpoint(note, signer.verifier)


def test_only_checkpoints_are_signed(log_signer: NoteSigner) -> None:
    with pytest.raises(LedgerNoteMalformed):
        sign_checkpoint("just a note\n", log_signer)


@pytest.mark.parametrize(
    "text",
    [
        "body\n",
        "body\n\n",
        "body\n\n\u2014 name c2lnbmF0dXJl",
        "body\n\n- name c2lnbmF0dXJlcw==\n",
        "body\n\n\u2014 name\n",
        "body\n\n\u2014 na me c2lnbmF0dXJlcw==\n",
        "body\n\n\u2014 a+b c2lnbmF0dXJlcw==\n",
        "body\n\n\u2014 name not-base64!\n",
        "body\n\n\u2014 name AAAA\n",
        "body\n\n" + "\u2014 name c2lnbmF0dXJlcw==\n" * 101,
    ],
)
def test_malformed_signed_notes_are_refused(text: str) -> None:
    with pytest.raises(LedgerNoteMalformed):
        parse_signed_note(text)


@pytest.mark.parametrize(
    "key",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpcMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
    ],
)
def test_bad_verifier_keys_are_refused(key: str) -> None:
    with pytest.raises(LedgerNoteMalformed):
        NoteVerifier.from_vkey(key)


def test_bad_signer_keys_are_refused() -> None:
    with pytest.raises(LedgerNoteMalformed):
        NoteSigner.from_skey(GO["skey"].removeprefix("PRIVATE+KEY+"))
    with pytest.raises(LedgerNoteMalformed):
        NoteSigner.from_skey(GO["skey"].replace("c74f20a3", "00000000"))
    with pytest.raises(LedgerNoteMalformed):
        NoteSigner("bad name", Ed25519PrivateKey.generate())


_line = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n"), min_size=1)


@given(
    origin=_line,
    size=st.integers(0, 2**63),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3),
)
def test_checkpoint_round_trip_property(
    origin: str, size: int, root_hash: bytes, extensions: list[str]
) -> None:
    cp = Checkpoint(origin, size, root_hash, tuple(extensions))
    assert Checkpoint.parse(cp.body()) == cp
