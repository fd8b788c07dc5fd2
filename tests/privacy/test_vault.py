from __future__ import annotations

import hashlib
import hmac
import struct
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from realname.privacy.keys import Keyring
from realname.privacy.vault import (
    BLIND_INDEX_KINDS,
    DataErased,
    DecryptionFailed,
    Vault,
    WrappedKey,
    shred,
)
from realname.store.models import Person

KEYRING = Keyring.generate()
VAULT = Vault(KEYRING)

ids = st.uuids().map(str)
names = st.text(
    alphabet=st.characters(categories=("Ll", "Lu", "Nd"), max_codepoint=0x7F), min_size=1
)
locations = st.tuples(names, ids, names)


def person(vault: Vault = VAULT) -> Person:
    person_id = str(uuid.uuid4())
    wrapped = vault.new_data_key(person_id)
    return Person(
        id=person_id, tenant_id="t", wrapped_dek=wrapped.ciphertext, kek_id=wrapped.kek_id
    )


# --- field encryption --------------------------------------------------------------


@given(plaintext=st.text(), where=locations)
def test_decrypt_inverts_encrypt(plaintext: str, where: tuple[str, str, str]) -> None:
    table, row_id, field = where
    owner = person()
    blob = VAULT.encrypt(owner, plaintext, table=table, row_id=row_id, field=field)
    assert VAULT.decrypt(owner, blob, table=table, row_id=row_id, field=field) == plaintext


@given(plaintext=st.text(), here=locations, there=locations)
def test_ciphertext_moved_elsewhere_fails(
    plaintext: str, here: tuple[str, str, str], there: tuple[str, str, str]
) -> None:
    owner = person()
    table, row_id, field = here
    blob = VAULT.encrypt(owner, plaintext, table=table, row_id=row_id, field=field)
    moved_table, moved_row, moved_field = there
    for target in (
        (moved_table, row_id, field),
        (table, moved_row, field),
        (table, row_id, moved_field),
    ):
        if target == here:
            continue
        with pytest.raises(DecryptionFailed):
            VAULT.decrypt(owner, blob, table=target[0], row_id=target[1], field=target[2])


@given(plaintext=st.text())
def test_another_persons_key_fails(plaintext: str) -> None:
    alice, bob = person(), person()
    blob = VAULT.encrypt(alice, plaintext, table="t", row_id="r", field="f")
    with pytest.raises(DecryptionFailed):
        VAULT.decrypt(bob, blob, table="t", row_id="r", field="f")


@given(plaintext=st.text(max_size=40), data=st.data())
def test_any_flipped_bit_fails(plaintext: str, data: st.DataObject) -> None:
    owner = person()
    blob = bytearray(VAULT.encrypt(owner, plaintext, table="t", row_id="r", field="f"))
    index = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.integers(0, 7))
    blob[index] ^= 1 << bit
    with pytest.raises(DecryptionFailed):
        VAULT.decrypt(owner, bytes(blob), table="t", row_id="r", field="f")


def test_truncated_ciphertexts_fail() -> None:
    owner = person()
    blob = VAULT.encrypt(owner, "x", table="t", row_id="r", field="f")
    for cut in range(len(blob)):
        with pytest.raises(DecryptionFailed):
            VAULT.decrypt(owner, blob[:cut], table="t", row_id="r", field="f")


def test_layout_matches_the_documented_format() -> None:
    """Decrypt with AESGCM directly, rebuilding the AAD from the documented layout."""
    dek = bytes(range(32))
    blob = VAULT.encrypt(dek, "王小明", table="identity_elements", row_id="r-1", field="name")
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + len("王小明".encode()) + 16

    def prefixed(*parts: str) -> bytes:
        return b"".join(struct.pack(">I", len(p.encode())) + p.encode() for p in parts)

    aad = b"realname/v1/field" + b"\x01" + prefixed("identity_elements", "r-1", "name")
    assert AESGCM(dek).decrypt(blob[1:13], blob[13:], aad).decode() == "王小明"


def test_encryption_is_randomised() -> None:
    owner = person()
    one = VAULT.encrypt(owner, "same", table="t", row_id="r", field="f")
    two = VAULT.encrypt(owner, "same", table="t", row_id="r", field="f")
    assert one != two
    assert one[1:13] != two[1:13]


# --- data keys ----------------------------------------------------------------------


def test_wrapped_key_copied_to_another_person_fails() -> None:
    alice = VAULT.new_data_key("alice")
    stolen = WrappedKey("mallory", alice.kek_id, alice.ciphertext)
    with pytest.raises(DecryptionFailed):
        Vault(KEYRING).unwrap(stolen)  # a fresh vault: nothing cached


def test_wrapped_key_relabelled_with_another_kek_fails() -> None:
    keyring = KEYRING.rotate()
    vault = Vault(keyring, cache_size=0)
    wrapped = vault.new_data_key("p")
    with pytest.raises(DecryptionFailed):
        vault.unwrap(WrappedKey("p", "k1", wrapped.ciphertext))


def test_unknown_kek_fails() -> None:
    wrapped = Vault(KEYRING.rotate()).new_data_key("p")
    with pytest.raises(DecryptionFailed):
        Vault(KEYRING).unwrap(wrapped)


def test_unwrapped_keys_are_cached_within_bounds() -> None:
    vault = Vault(KEYRING, cache_size=2)
    wrapped = [vault.new_data_key(f"p{i}") for i in range(3)]
    assert len(vault._cache) == 2
    vault.clear_cache()
    assert vault.unwrap(wrapped[0]) == vault.unwrap(wrapped[0])
    assert len(vault._cache) == 1
    vault.forget("p0")
    assert len(vault._cache) == 0


def test_expired_cache_entries_are_not_served() -> None:
    vault = Vault(KEYRING, cache_ttl=-1.0)
    vault.new_data_key("p")
    assert vault._cache.get(("p", "k1", b"")) is None
    assert all(vault._cache.get(key) is None for key in list(vault._cache._entries))


# --- blind index ---------------------------------------------------------------------


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    """RFC 5869 HKDF-SHA256 with an empty salt, written out independently of the vault."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_blind_index_known_answer() -> None:
    """Pinned: changing the derivation would silently break every stored index."""
    vault = Vault(Keyring(keks={"k1": bytes(32)}, current="k1", index_key=bytes(range(32))))
    subkey = _hkdf(bytes(range(32)), b"realname/v1/blind-index/phone")
    expected = hmac.new(subkey, b"13800138000", hashlib.sha256).hexdigest()
    assert vault.blind_index("phone", "13800138000") == expected
    # Each value is computed afresh: an earlier one leaves nothing behind.
    assert vault.blind_index("phone", "13900139000") != expected
    assert vault.blind_index("phone", "13800138000") == expected
    assert expected == "032af4125eea71210a28987ecdd21fdbeb660354a11876e49c918e5c53690bf2"


@given(value=st.text(), kind=st.sampled_from(sorted(BLIND_INDEX_KINDS)))
def test_blind_index_is_deterministic(value: str, kind: str) -> None:
    other_vault_same_keys = Vault(Keyring.from_json(KEYRING.to_json()))
    assert VAULT.blind_index(kind, value) == other_vault_same_keys.blind_index(kind, value)
    assert len(VAULT.blind_index(kind, value)) == 64


@given(value=st.text())
def test_blind_index_is_kind_separated(value: str) -> None:
    indexes = {VAULT.blind_index(kind, value) for kind in BLIND_INDEX_KINDS}
    assert len(indexes) == len(BLIND_INDEX_KINDS)


@given(a=st.text(), b=st.text())
def test_blind_index_separates_values(a: str, b: str) -> None:
    if a != b:
        assert VAULT.blind_index("id_number", a) != VAULT.blind_index("id_number", b)


def test_blind_index_depends_on_the_index_key_only() -> None:
    other = Keyring.generate()
    assert Vault(other).blind_index("phone", "1") != VAULT.blind_index("phone", "1")
    assert Vault(KEYRING.rotate()).blind_index("phone", "1") == VAULT.blind_index("phone", "1")
    with pytest.raises(ValueError, match="no blind index"):
        VAULT.blind_index("name", "王小明")


# --- rotation and shredding, without a database -------------------------------------


@settings(max_examples=50)
@given(values=st.lists(st.text(), min_size=1, max_size=5))
def test_rewrap_keeps_fields_readable_and_indexes_unchanged(values: list[str]) -> None:
    old_vault = Vault(KEYRING)
    owner = person(old_vault)
    blobs = [
        old_vault.encrypt(owner, v, table="t", row_id=str(i), field="f")
        for i, v in enumerate(values)
    ]
    indexes = [old_vault.blind_index("phone", v) for v in values]

    new_keyring = KEYRING.rotate()
    rewrapped = Vault(new_keyring).rewrap(WrappedKey(owner.id, "k1", owner.wrapped_dek or b""))
    assert rewrapped.kek_id == "k2"

    # After the old KEK is dropped, only the re-wrapped key opens the (untouched) fields.
    final = Vault(new_keyring.without("k1"))
    assert [
        final.decrypt(rewrapped, b, table="t", row_id=str(i), field="f")
        for i, b in enumerate(blobs)
    ] == values
    assert [final.blind_index("phone", v) for v in values] == indexes
    with pytest.raises(DecryptionFailed):
        final.unwrap(WrappedKey(owner.id, "k1", owner.wrapped_dek or b""))


@given(plaintexts=st.lists(st.text(), min_size=2, max_size=6), data=st.data())
def test_shredding_one_person_leaves_the_others_readable(
    plaintexts: list[str], data: st.DataObject
) -> None:
    vault = Vault(KEYRING)
    people = [person(vault) for _ in plaintexts]
    blobs = [
        vault.encrypt(p, text, table="t", row_id=p.id, field="f")
        for p, text in zip(people, plaintexts, strict=True)
    ]
    # Read once so the vault caches every key: shredding must still win over the cache.
    for p, blob in zip(people, blobs, strict=True):
        vault.decrypt(p, blob, table="t", row_id=p.id, field="f")
    victim = data.draw(st.integers(0, len(people) - 1))
    shred(people[victim], vault=vault)
    for i, (p, blob, text) in enumerate(zip(people, blobs, plaintexts, strict=True)):
        if i == victim:
            with pytest.raises(DataErased):
                vault.decrypt(p, blob, table="t", row_id=p.id, field="f")
        else:
            assert vault.decrypt(p, blob, table="t", row_id=p.id, field="f") == text
    assert people[victim].shredded_at is not None
