"""did:key (Ed25519) against the did:key method's published test vectors; did:web syntax."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from realname.credentials.did import (
    DidInvalid,
    b58decode,
    b58encode,
    did_key_from_public_key,
    public_key_from_did_key,
    validate_did,
)

# w3c-ccg/did-method-key test-vectors/ed25519-x25519.json: seed -> DID, publicKeyBase58.
VECTORS = [
    (
        "00" * 32,
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
        "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
    ),
    (
        "00" * 31 + "01",
        "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
        "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
    ),
    (
        "00" * 31 + "02",
        "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
        "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH",
    ),
]


@pytest.mark.parametrize(("seed", "did", "base58"), VECTORS)
def test_did_key_known_answers(seed: str, did: str, base58: str) -> None:
    public = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert b58encode(raw) == base58
    assert did_key_from_public_key(public) == did
    decoded = public_key_from_did_key(did).public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert decoded == raw


@given(st.binary(max_size=64))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data


@pytest.mark.parametrize(
    "did",
    [
        "did:web:bank.example",
        "did:web:bank.example%3A8443:issuers:retail",
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
    ],
)
def test_valid_dids(did: str) -> None:
    assert validate_did(did) == did


@pytest.mark.parametrize(
    "did",
    [
        "did:web:",
        "did:web:bank example",
        "did:example:123",
        "did:key:z0OIl",  # not base58
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",  # secp256k1, not Ed25519
    ],
)
def test_invalid_dids(did: str) -> None:
    with pytest.raises(DidInvalid):
        validate_did(did)
