"""SD-JWT primitives against RFC 9901's own Disclosures, properties, and the reference library."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from realname.credentials.sdjwt import (
    Disclosure,
    Jws,
    SdJwt,
    SdJwtMalformed,
    b64url_decode,
    b64url_encode,
    jwk_to_public_key,
    make_disclosure,
    public_key_to_jwk,
    sign_jws,
    verify_jws_signature,
)

# RFC 9901 (SD-JWT) examples: Disclosure -> SHA-256 digest, as printed in the RFC.
RFC_9901_DISCLOSURES = [
    (
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd",
        "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4",
        ("2GLC42sKQveCfGfryNRN9w", "given_name", "John"),
    ),
    (
        "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd",
        "TGf4oLbgwd5JQaHyKVQZU9UdGE0w5rtDsrZzfUaomLo",
        ("eluV5Og3gSNII8EYnsxA_A", "family_name", "Doe"),
    ),
    (
        "WyI2cU1RdlJMNWhhaiIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0",
        "uutlBuYeMDyjLLTpf6Jxi7yNkEF35jdyWMn9U7b_RYY",
        ("6qMQvRL5haj", "family_name", "Möbius"),
    ),
]


@pytest.mark.parametrize(("encoded", "digest", "contents"), RFC_9901_DISCLOSURES)
def test_rfc9901_disclosure_digests(encoded: str, digest: str, contents: tuple[str, ...]) -> None:
    disclosure = Disclosure.parse(encoded)
    assert (disclosure.salt, disclosure.name, disclosure.value) == contents
    assert disclosure.digest == digest


@given(st.binary(max_size=200))
def test_b64url_round_trip(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert "=" not in encoded
    assert b64url_decode(encoded) == data


@pytest.mark.parametrize(
    "bad", ["a=", "a+b", "ab/c", "é", "ab cd", "ab\ncd", "ab*c", "a.bc", "abcde", "ab\x00c", "QQ=="]
)
def test_b64url_refuses_other_alphabets(bad: str) -> None:
    with pytest.raises(SdJwtMalformed):
        b64url_decode(bad)


@given(st.text(max_size=30), st.one_of(st.text(max_size=30), st.booleans(), st.integers()))
def test_disclosure_round_trip(name: str, value: object) -> None:
    if name in ("_sd", "..."):
        return
    made = make_disclosure(name, value)
    parsed = Disclosure.parse(made.encoded)
    assert (parsed.name, parsed.value, parsed.digest) == (name, value, made.digest)


def test_jws_pins_eddsa_and_detects_tampering() -> None:
    key = Ed25519PrivateKey.generate()
    token = sign_jws({"typ": "x", "alg": "none"}, {"a": 1}, key)
    jws = Jws.parse(token)
    assert jws.header["alg"] == "EdDSA"
    assert verify_jws_signature(jws, key.public_key())
    assert not verify_jws_signature(jws, Ed25519PrivateKey.generate().public_key())
    head, _, sig = token.split(".")
    forged = Jws.parse(f"{head}.{b64url_encode(json.dumps({'a': 2}).encode())}.{sig}")
    assert not verify_jws_signature(forged, key.public_key())


def test_jwk_round_trip_and_refusals() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    assert public_key_to_jwk(jwk_to_public_key(public_key_to_jwk(key))) == public_key_to_jwk(key)
    with pytest.raises(SdJwtMalformed):
        jwk_to_public_key({"kty": "EC", "crv": "P-256", "x": "AA"})


def test_holder_keys_are_loaded_once_per_key_bytes() -> None:
    jwk = public_key_to_jwk(Ed25519PrivateKey.generate().public_key())
    assert jwk_to_public_key(jwk) is jwk_to_public_key(dict(jwk))
    other = public_key_to_jwk(Ed25519PrivateKey.generate().public_key())
    assert public_key_to_jwk(jwk_to_public_key(other)) == other


def test_compact_parse_and_serialize() -> None:
    assert SdJwt.parse("a.b.c~d1~d2~").disclosures == ("d1", "d2")
    assert SdJwt.parse("a.b.c~d1~kb").kb_jwt == "kb"
    assert SdJwt.parse("a.b.c~d1~").serialize() == "a.b.c~d1~"
    for bad in ["a.b.c", "~x~", "a.b.c~~"]:
        with pytest.raises(SdJwtMalformed):
            SdJwt.parse(bad)


def test_jws_json_segments_parse_like_json_loads() -> None:
    def segment(text: str) -> str:
        return b64url_encode(text.encode())

    header, payload = segment(' {"alg": "EdDSA"}\n'), segment('{"a":1}')
    spaced = Jws.parse(header + "." + payload + ".AA")
    assert spaced.header == {"alg": "EdDSA"}
    assert spaced.payload == {"a": 1}
    for bad in ('{"a":1}x', '{"a":1}{}', "[1]", "", '{"a":1'):
        with pytest.raises(SdJwtMalformed):
            Jws.parse(segment("{}") + "." + segment(bad) + ".AA")
