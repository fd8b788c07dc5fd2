"""SD-JWT primitives against RFC 9901's own Disclosures, properties, and the reference library."""

from __future__ import annotations

import binascii
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


def _stdlib_b64url_decode(text: str) -> bytes:
    """The stdlib decoder b64url_decode replaced, as an oracle: strict base64 after
    mapping base64url to the standard alphabet and the standard alphabet's own
    characters and padding to a byte outside it."""
    raw = text.encode("ascii")
    std = raw.translate(bytes.maketrans(b"-_+/=", b"+/***"))
    return binascii.a2b_base64(std + (b"", b"", b"==", b"=")[len(raw) % 4], strict_mode=True)


@given(st.text(alphabet="AQgw09az-_+/=* .\n\x00é", max_size=12))
def test_b64url_decode_accepts_and_refuses_what_the_stdlib_does(text: str) -> None:
    try:
        expected: bytes | None = _stdlib_b64url_decode(text)
    except ValueError:  # binascii.Error, UnicodeEncodeError
        expected = None
    if expected is None:
        with pytest.raises(SdJwtMalformed):
            b64url_decode(text)
    else:
        assert b64url_decode(text) == expected


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


@pytest.mark.parametrize(
    "bad",
    [
        '{"a":NaN}',
        '{"a":-Infinity}',
        '{"a":"\\ud800"}',  # a lone surrogate escape
        "[" * 2000 + "]" * 2000,  # deeper than any parser's stack
        "\ufeff{}",
        '{"a":"\t"}',
    ],
)
def test_jws_json_outside_i_json_is_malformed(bad: str) -> None:
    """JWS segments are read as I-JSON (RFC 7493): no NaN, lone surrogates or raw
    control characters; a pathological nesting is refused, not a RecursionError."""
    with pytest.raises(SdJwtMalformed):
        Jws.parse(b64url_encode(b"{}") + "." + b64url_encode(bad.encode()) + ".AA")
    with pytest.raises(SdJwtMalformed):
        Jws.parse(b64url_encode(bad.encode()) + "." + b64url_encode(b"{}") + ".AA")
    with pytest.raises(SdJwtMalformed):
        Jws.parse(b64url_encode(b"{}") + "." + b64url_encode(b"\xff{}") + ".AA")


def test_jws_json_duplicate_names_keep_the_last_value() -> None:
    """RFC 7515 §5.2 lets a JWS parser keep the lexically last of duplicate names."""
    jws = Jws.parse(b64url_encode(b'{"a":1,"a":2}') + "." + b64url_encode(b'{"b":1,"b":3}') + ".AA")
    assert (jws.header, jws.payload) == ({"a": 2}, {"b": 3})


@pytest.mark.parametrize("bad", ['["s","n",NaN]', '["s","n","\\udc00"]', '["s","n"', '["s",1,2]'])
def test_disclosure_outside_i_json_is_malformed(bad: str) -> None:
    with pytest.raises(SdJwtMalformed):
        Disclosure.parse(b64url_encode(bad.encode()))


def test_json_never_issued_with_nan() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        sign_jws({}, {"x": float("nan")}, Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="not JSON compliant"):
        make_disclosure("x", float("inf"))
