"""Token Status List encoding against the draft's examples, properties, and signed tokens."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from realname.credentials.status_list import (
    STATUS_INVALID,
    STATUS_VALID,
    StatusList,
    StatusListInvalid,
    open_status_list_token,
    sign_status_list_token,
)

URI = "https://issuer.example/statuslists/1"


def test_draft_example_one_bit() -> None:
    # draft-ietf-oauth-status-list §4.1: 16 one-bit statuses, bytes 0xB9 0xA3.
    decoded = StatusList.decode({"bits": 1, "lst": "eNrbuRgAAhcBXQ"})
    assert bytes(decoded.data) == bytes([0xB9, 0xA3])
    invalid = [0, 3, 4, 5, 7, 8, 9, 13, 15]
    assert [i for i in range(16) if decoded.get(i) == STATUS_INVALID] == invalid
    rebuilt = StatusList.empty(16)
    for index in invalid:
        rebuilt.set(index, STATUS_INVALID)
    assert rebuilt.data == decoded.data
    assert rebuilt.encode() == {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}


def test_draft_example_two_bits() -> None:
    # draft-ietf-oauth-status-list §4.1: 12 two-bit statuses, bytes 0xC9 0x44 0xF9.
    decoded = StatusList.decode({"bits": 2, "lst": "eNo76fITAAPfAgc"})
    assert bytes(decoded.data) == bytes([0xC9, 0x44, 0xF9])
    assert [decoded.get(i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


@given(st.sampled_from([1, 2, 4, 8]), st.data())
def test_set_get_encode_decode(bits: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=200))
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=size, max_size=size))
    statuses = StatusList.empty(size, bits)
    for i, value in enumerate(values):
        statuses.set(i, value)
    decoded = StatusList.decode(statuses.encode())
    assert [decoded.get(i) for i in range(size)] == values


def test_unset_and_bounds() -> None:
    statuses = StatusList.empty(8)
    statuses.set(3, STATUS_INVALID)
    statuses.set(3, STATUS_VALID)
    assert statuses.get(3) == STATUS_VALID
    assert statuses.data == bytearray(1)
    with pytest.raises(IndexError):
        statuses.get(8)
    with pytest.raises(ValueError, match="bits"):
        statuses.set(0, 2)
    with pytest.raises(StatusListInvalid):
        StatusList(3)
    with pytest.raises(StatusListInvalid):
        StatusList.decode({"bits": 1, "lst": "not-zlib"})


def test_signed_token_round_trip_and_refusals() -> None:
    key = Ed25519PrivateKey.generate()
    statuses = StatusList.empty(64)
    statuses.set(5, STATUS_INVALID)
    token = sign_status_list_token(statuses, uri=URI, key=key, kid="k1", iat=1000, ttl=60)
    opened = open_status_list_token(token, uri=URI, key=key.public_key(), now=1030)
    assert opened.get(5) == STATUS_INVALID
    assert opened.get(4) == STATUS_VALID
    with pytest.raises(StatusListInvalid):
        open_status_list_token(token, uri=URI + "x", key=key.public_key(), now=1030)
    with pytest.raises(StatusListInvalid):
        open_status_list_token(token, uri=URI, key=key.public_key(), now=1060)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(StatusListInvalid):
        open_status_list_token(token, uri=URI, key=other, now=1030)
