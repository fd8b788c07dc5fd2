"""Signed checkpoints of the ledger: C2SP tlog-checkpoint inside a C2SP signed note.

A checkpoint body (https://c2sp.org/tlog-checkpoint) is newline-terminated lines::

    <origin>
    <tree size, decimal, no leading zeroes>
    <base64 root hash>
    [<extension line>...]

A signed note (https://c2sp.org/signed-note) is that text, one empty line, then one
line per signature::

    — <key name> <base64(4-byte key ID || signature)>

The line starts with an em dash (U+2014) and a space. For Ed25519 (signature type
0x01) the key ID is ``SHA-256(<key name> || "\\n" || 0x01 || 32-byte public key)[:4]``
and the signature is the 64-byte Ed25519 signature over the note text including its
final newline. Key strings follow the Go reference implementation
(golang.org/x/mod/sumdb/note): ``<name>+<hex key ID>+<base64(0x01 || public key)>``
for verifiers and ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`` for
signers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realname.errors import RealnameError

__all__ = [
    "SIG_TYPE_ED25519",
    "Checkpoint",
    "LedgerNoteMalformed",
    "LedgerSignatureInvalid",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "SignedNote",
    "Verifier",
    "add_signatures",
    "key_id",
    "open_checkpoint",
    "parse_signed_note",
    "sign_checkpoint",
    "verify_note",
]

SIG_TYPE_ED25519 = 0x01
_EM_DASH_PREFIX = "\u2014 "
# The signed-note spec lets verifiers cap the number of signatures they look at.
MAX_SIGNATURES = 100
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class LedgerNoteMalformed(RealnameError):
    """A checkpoint or signed note does not follow the C2SP format."""

    code: ClassVar[str] = "LEDGER_NOTE_MALFORMED"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The checkpoint or signed note is malformed."


class LedgerSignatureInvalid(RealnameError):
    """No trusted key produced a valid signature over the note."""

    code: ClassVar[str] = "LEDGER_SIGNATURE_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "The checkpoint is not signed by a trusted key."


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name || "\\n" || type || public key)[:4]`` (signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def _valid_key_name(name: str) -> bool:
    # signed-note: a key name is non-empty and holds no Unicode spaces and no "+".
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, its size and its root hash (C2SP tlog-checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        lines = (self.origin, *self.extensions)
        if not self.origin or any(not line or "\n" in line for line in lines):
            raise LedgerNoteMalformed("Checkpoint lines must be non-empty single lines.")
        if self.size < 0 or len(self.root_hash) != 32:
            raise LedgerNoteMalformed("A checkpoint needs a size >= 0 and a 32-byte root.")

    def body(self) -> str:
        """The checkpoint text, every line newline-terminated."""
        root_b64 = base64.b64encode(self.root_hash).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root_b64, *self.extensions)
        )

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body; raise :class:`LedgerNoteMalformed` if it is not one."""
        if not body.endswith("\n"):
            raise LedgerNoteMalformed("A checkpoint ends with a newline.")
        lines = body[:-1].split("\n")
        if len(lines) < 3 or not _DECIMAL.fullmatch(lines[1]):
            raise LedgerNoteMalformed("A checkpoint has an origin, a decimal size and a root.")
        try:
            root_hash = base64.b64decode(lines[2], validate=True)
        except binascii.Error as exc:
            raise LedgerNoteMalformed("The checkpoint root hash is not base64.") from exc
        return cls(lines[0], int(lines[1]), root_hash, tuple(lines[3:]))


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_EM_DASH_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note's text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


class Verifier(Protocol):
    """Anything that checks signature lines of one key: Ed25519 notes or cosignatures."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: str, signature: bytes) -> bool: ...


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 (type 0x01) signed-note verifier key."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, SIG_TYPE_ED25519, _raw_public(self.public_key))

    def verify(self, text: str, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text.encode())
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(0x01 || key)>``."""
        material = bytes([SIG_TYPE_ED25519]) + _raw_public(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(material).decode()}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        name, hex_id, material = _split_key(vkey)
        if len(material) != 33:
            raise LedgerNoteMalformed("An Ed25519 verifier key holds 32 bytes.")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(material[1:]))
        if verifier.key_id.hex() != hex_id:
            raise LedgerNoteMalformed("The verifier key ID does not match the key.")
        return verifier


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 (type 0x01) signed-note signer: the log's checkpoint key."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        if not _valid_key_name(self.name):
            raise LedgerNoteMalformed("A key name is non-empty, without spaces or '+'.")

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key())

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self.name, self.verifier.key_id, self.private_key.sign(text.encode()))

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        prefix = "PRIVATE+KEY+"
        if not skey.startswith(prefix):
            raise LedgerNoteMalformed("A signer key starts with PRIVATE+KEY+.")
        name, hex_id, material = _split_key(skey[len(prefix) :])
        if len(material) != 33:
            raise LedgerNoteMalformed("An Ed25519 signer key holds a 32-byte seed.")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(material[1:]))
        if signer.verifier.key_id.hex() != hex_id:
            raise LedgerNoteMalformed("The signer key ID does not match the key.")
        return signer


def _split_key(key: str) -> tuple[str, str, bytes]:
    # The base64 part may itself contain "+", so split at most twice.
    parts = key.split("+", 2)
    if len(parts) != 3 or not _valid_key_name(parts[0]) or len(parts[1]) != 8:
        raise LedgerNoteMalformed("A key is <name>+<8 hex digits>+<base64>.")
    try:
        material = base64.b64decode(parts[2], validate=True)
    except binascii.Error as exc:
        raise LedgerNoteMalformed("The key material is not base64.") from exc
    if not material or material[0] != SIG_TYPE_ED25519:
        raise LedgerNoteMalformed("Only Ed25519 (type 0x01) keys are supported.")
    return parts[0], parts[1].lower(), material


def parse_signed_note(text: str) -> SignedNote:
    """Split a signed note into its text and signature lines (C2SP signed-note).

    Raises :class:`LedgerNoteMalformed` when there is no signature block, a signature
    line is malformed, or there are more than :data:`MAX_SIGNATURES` signatures.
    """
    if not text.endswith("\n"):
        raise LedgerNoteMalformed("A signed note ends with a newline.")
    split = text.rfind("\n\n")
    if split < 0:
        raise LedgerNoteMalformed("A signed note has a blank line before its signatures.")
    body, block = text[: split + 1], text[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines or len(lines) > MAX_SIGNATURES:
        raise LedgerNoteMalformed("A signed note carries 1 to 100 signatures.")
    signatures = []
    for line in lines:
        if not line.startswith(_EM_DASH_PREFIX):
            raise LedgerNoteMalformed("A signature line starts with an em dash and a space.")
        fields = line[len(_EM_DASH_PREFIX) :].split(" ")
        if len(fields) != 2 or not _valid_key_name(fields[0]):
            raise LedgerNoteMalformed("A signature line is '— <key name> <base64>'.")
        try:
            blob = base64.b64decode(fields[1], validate=True)
        except binascii.Error as exc:
            raise LedgerNoteMalformed("A signature is not base64.") from exc
        if len(blob) < 5:
            raise LedgerNoteMalformed("A signature holds a key ID and signature bytes.")
        signatures.append(NoteSignature(fields[0], blob[:4], blob[4:]))
    return SignedNote(body, tuple(signatures))


def verify_note(text: str | SignedNote, verifiers: Iterable[Verifier]) -> frozenset[str]:
    """The names of the ``verifiers`` whose signature on the note is valid.

    Signature lines are matched to verifiers by key name and key ID; lines of unknown
    keys are ignored, as the signed-note spec asks, and so are invalid signatures: the
    answer only ever names keys that really signed this exact text.
    """
    note = parse_signed_note(text) if isinstance(text, str) else text
    by_id = {(v.name, v.key_id): v for v in verifiers}
    verified = set()
    for sig in note.signatures:
        verifier = by_id.get((sig.name, sig.key_id))
        if verifier is not None and verifier.verify(note.text, sig.signature):
            verified.add(verifier.name)
    return frozenset(verified)


def sign_checkpoint(body: str | Checkpoint, signer: NoteSigner) -> str:
    """The signed note of a checkpoint body, signed by the log's key."""
    text = body.body() if isinstance(body, Checkpoint) else body
    Checkpoint.parse(text)  # Refuse to sign anything that is not a checkpoint.
    return SignedNote(text, (signer.sign(text),)).render()


def add_signatures(text: str, signatures: Iterable[NoteSignature]) -> str:
    """The signed note ``text`` with more signature lines appended (e.g. cosignatures)."""
    note = parse_signed_note(text)
    return SignedNote(note.text, (*note.signatures, *signatures)).render()


def open_checkpoint(text: str, log_key: Verifier) -> Checkpoint:
    """Parse a signed checkpoint after checking the log's own signature on it.

    Raises :class:`LedgerSignatureInvalid` unless ``log_key`` signed it, and
    :class:`LedgerNoteMalformed` when the origin differs from the log key's name:
    realname's logs sign under their origin, so a mismatch means the wrong log.
    """
    note = parse_signed_note(text)
    if log_key.name not in verify_note(note, [log_key]):
        raise LedgerSignatureInvalid()
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.origin != log_key.name:
        raise LedgerNoteMalformed("The checkpoint origin is not the log key's name.")
    return checkpoint
