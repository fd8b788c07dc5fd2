"""Decentralized identifiers of institutions: ``did:key`` (Ed25519) and ``did:web``.

``did:key`` (W3C CCG did:key method): ``did:key:`` + multibase base58btc (prefix
``z``) of the multicodec ``ed25519-pub`` varint ``0xed 0x01`` followed by the 32-byte
public key, so every Ed25519 did:key starts ``did:key:z6Mk``.

Why hand-written: base58btc is twenty lines, and the maintained multiformats
packages on PyPI (``multiformats``, ``py-multibase``) were last released in 2023 and
2025 and would pull in a registry of codecs for one prefix. Tests check the did:key
spec's own test vectors (``test-vectors/ed25519-x25519.json``).

``did:web`` (W3C CCG did:web method): ``did:web:<host>[:<path segment>…]`` with a port
percent-encoded as ``%3A``; only the syntax is checked here: resolving it is an HTTP
fetch, and realname pins each institution's keys in its trust registry instead.
"""

from __future__ import annotations

import re
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realname.errors import RealnameError

__all__ = [
    "DidInvalid",
    "b58decode",
    "b58encode",
    "did_key_from_public_key",
    "public_key_from_did_key",
    "validate_did",
]

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_ED25519_PUB = b"\xed\x01"
_DID_WEB = re.compile(r"did:web:[A-Za-z0-9.\-]+(%3A[0-9]+)?(:[A-Za-z0-9._\-~%]+)*")


class DidInvalid(RealnameError):
    """A DID is not a did:key (Ed25519) or did:web identifier realname accepts."""

    code: ClassVar[str] = "DID_INVALID"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The DID is not a valid did:key or did:web identifier."


def b58encode(data: bytes) -> str:
    """Bitcoin base58 (base58btc): leading zero bytes become ``1``."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_ALPHABET[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; raise :class:`DidInvalid` on a foreign character."""
    n = 0
    for c in text:
        if c not in _INDEX:
            raise DidInvalid("Not base58btc.")
        n = n * 58 + _INDEX[c]
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def did_key_from_public_key(key: Ed25519PublicKey) -> str:
    """The ``did:key`` of an Ed25519 public key."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "did:key:z" + b58encode(_ED25519_PUB + raw)


def public_key_from_did_key(did: str) -> Ed25519PublicKey:
    """The Ed25519 key a ``did:key`` encodes; raise :class:`DidInvalid` otherwise."""
    prefix = "did:key:z"
    if not did.startswith(prefix):
        raise DidInvalid("Only base58btc did:key identifiers are accepted.")
    material = b58decode(did[len(prefix) :])
    if len(material) != 34 or material[:2] != _ED25519_PUB:
        raise DidInvalid("Only Ed25519 did:key identifiers are accepted.")
    return Ed25519PublicKey.from_public_bytes(material[2:])


def validate_did(did: str) -> str:
    """``did`` itself if it is an Ed25519 did:key or a syntactically valid did:web."""
    if did.startswith("did:key:"):
        public_key_from_did_key(did)
        return did
    if _DID_WEB.fullmatch(did) and len(did) <= 255:
        return did
    raise DidInvalid()
