"""Field encryption with per-person data keys, and HMAC blind indexes.

Envelope encryption (DESIGN §9; JR/T 0171-2020 asks for personal financial
information such as ID and bank-card numbers to be protected in storage, PIPL Art. 51
names encryption among the required measures):

* every person has a random 256-bit **data key** (DEK), stored only *wrapped*
  (AES-256-GCM under the keyring's current KEK, an authenticated key wrap in the sense
  of NIST SP 800-38F), with associated data binding the wrap to the person id and KEK id — a
  wrapped key copied to another person does not unwrap;
* every field is encrypted under its owner's DEK with AES-256-GCM
  (NIST SP 800-38D) and a random 96-bit nonce. Per-person keys encrypt a handful of
  fields each, far below the 2^32 random-nonce limit of SP 800-38D §8.3;
* the associated data binds each ciphertext to ``table``/``row_id``/``field``, so a
  ciphertext moved to another row or column fails authentication instead of
  decrypting as somebody else's data;
* destroying a person's wrapped DEK (crypto-shredding, PIPL Art. 47) makes every
  copy of their ciphertexts — backups and replicas included — unreadable.

Field ciphertext layout (version 1)::

    0x01 || nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes)

**Blind indexes** answer "who has this ID number?" without decrypting: HMAC-SHA256
(RFC 2104, FIPS 198-1) of the normalised value under a per-kind subkey derived by
HKDF (RFC 5869) from the keyring's index key, as 64 hex characters (the full 256
bits; no truncation). Separate subkeys mean equal strings of different kinds get
unrelated indexes. Phone and ID numbers have small value spaces, so the index key
must be guarded exactly like the master key.

Also here: :func:`rotate_master_key` (re-wrap every data key under a new master key,
online) and :func:`shred` (crypto-shredding: after it, every copy of the person's
ciphertexts — backups and replicas included — is unreadable, and reading through
the vault raises :class:`DataErased`).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from realname import randomness
from realname.errors import ConfigurationError, RealnameError
from realname.privacy.keys import KEY_BYTES, Keyring, hkdf_sha256
from realname.store.models import Person
from realname.store.repositories import audit
from realname.store.types import utcnow

logger = logging.getLogger(__name__)

FIELD_FORMAT_VERSION = 1
WRAP_FORMAT_VERSION = 1
NONCE_BYTES = 12  # 96 bits, the IV length SP 800-38D §8.2 recommends
TAG_BYTES = 16

#: The kinds of value that get a blind index; each has its own HMAC subkey.
BLIND_INDEX_KINDS = frozenset({"id_number", "phone", "bank_card"})

_FIELD_AAD_LABEL = b"realname/v1/field"
_WRAP_AAD_LABEL = b"realname/v1/dek-wrap"
_INDEX_SUBKEY_LABEL = b"realname/v1/blind-index/"


class DecryptionFailed(RealnameError):
    """A ciphertext failed authentication: wrong key, wrong place, or tampered with.

    Deliberately says no more: telling which check failed would help an attacker.
    """

    code = "DECRYPTION_FAILED"
    http_status = 500
    default_message = "Stored data could not be decrypted."


class DataErased(RealnameError):
    """The person's data key was destroyed (crypto-shredding), so their data is gone."""

    code = "DATA_ERASED"
    http_status = 410
    default_message = "This person's data has been erased."


@dataclass(frozen=True)
class WrappedKey:
    """A person's DEK encrypted under the KEK ``kek_id``; safe to store.

    ``person_id`` is not stored with the ciphertext: it is the id of the row that
    holds it, and it is part of the associated data of the wrap.
    """

    person_id: str
    kek_id: str
    ciphertext: bytes


class DataKeyHolder(Protocol):
    """Anything that holds a wrapped DEK the way ``people`` rows do."""

    @property
    def id(self) -> str: ...

    @property
    def wrapped_dek(self) -> bytes | None: ...

    @property
    def kek_id(self) -> str | None: ...


#: What ``encrypt``/``decrypt`` accept as the key: a raw DEK, a wrapped one, or a person.
KeySource = bytes | WrappedKey | DataKeyHolder


def _length_prefixed(*parts: str) -> bytes:
    """Unambiguous concatenation: ("ab", "c") and ("a", "bc") must differ."""
    out = bytearray()
    for part in parts:
        encoded = part.encode("utf-8")
        out += struct.pack(">I", len(encoded))
        out += encoded
    return bytes(out)


def field_aad(table: str, row_id: str, field: str) -> bytes:
    """Associated data binding a field ciphertext to its table, row and column."""
    return _FIELD_AAD_LABEL + bytes([FIELD_FORMAT_VERSION]) + _length_prefixed(table, row_id, field)


def wrap_aad(person_id: str, kek_id: str) -> bytes:
    """Associated data binding a wrapped DEK to its person and to the KEK that wraps it."""
    return _WRAP_AAD_LABEL + bytes([WRAP_FORMAT_VERSION]) + _length_prefixed(person_id, kek_id)


class _DekCache:
    """A small LRU of unwrapped DEKs with a time limit, shared by a Vault's threads.

    A request touches the same person's fields several times; unwrapping once is
    enough. Entries expire after ``ttl`` seconds so a DEK does not sit in memory
    for long, and the key includes the person id and the wrapped bytes, so a copied
    or re-wrapped key is never served from another entry.
    """

    def __init__(self, size: int, ttl: float) -> None:
        self._size = size
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str, bytes], tuple[float, bytes]] = OrderedDict()

    def get(self, key: tuple[str, str, bytes]) -> bytes | None:
        if self._size <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, dek = entry
            if now - stored_at > self._ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return dek

    def put(self, key: tuple[str, str, bytes], dek: bytes) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic(), dek)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, person_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == person_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class Vault:
    """Encrypts and decrypts personal data fields; computes blind indexes.

    One ``Vault`` per process is enough; it is thread-safe. ``cache_size`` and
    ``cache_ttl`` bound the in-memory cache of unwrapped DEKs (0 disables it).
    """

    def __init__(
        self,
        keyring: Keyring,
        *,
        cache_size: int = 1024,
        cache_ttl: float = 60.0,
        reload: Callable[[], Keyring] | None = None,
        reload_interval: float = 30.0,
    ):
        self._keyring = keyring
        self._cache = _DekCache(cache_size, cache_ttl)
        # Rotation without downtime: ``realname keys rotate`` writes a new keyring while
        # API processes run. With ``reload`` set, a process picks the new keyring up
        # within ``reload_interval`` seconds (so new data keys are wrapped under the new
        # master key) and at once when it meets a data key wrapped under a master key
        # it does not know yet.
        self._reload = reload
        self._reload_interval = reload_interval
        self._reloaded_at = time.monotonic()
        self._reload_lock = threading.Lock()
        #: Per kind, an HMAC keyed with that kind's subkey and fed nothing: each index
        #: value is computed on a copy (see :meth:`blind_index`).
        self._index_macs = {
            kind: hmac.new(
                hkdf_sha256(keyring.index_key, _INDEX_SUBKEY_LABEL + kind.encode("ascii")),
                digestmod="sha256",
            )
            for kind in sorted(BLIND_INDEX_KINDS)
        }

    def __repr__(self) -> str:
        return f"Vault(current_kek={self._keyring.current!r}, keks={self._keyring.kek_ids!r})"

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    # --- data keys ----------------------------------------------------------------

    def new_data_key(self, person_id: str) -> WrappedKey:
        """A fresh random DEK for ``person_id``, wrapped under the current KEK."""
        dek = secrets.token_bytes(KEY_BYTES)
        wrapped = self._wrap(person_id, dek)
        self._cache.put((person_id, wrapped.kek_id, wrapped.ciphertext), dek)
        return wrapped

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """The plaintext DEK; :class:`DecryptionFailed` if it does not authenticate."""
        cache_key = (wrapped.person_id, wrapped.kek_id, wrapped.ciphertext)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        kek = self._keyring.kek(wrapped.kek_id)
        if kek is None and self._reload is not None:
            self._refresh_keyring()
            kek = self._keyring.kek(wrapped.kek_id)
        if kek is None:
            raise DecryptionFailed(
                "The master key that wrapped this data key is not in the keyring.",
                kek_id=wrapped.kek_id,
            )
        blob = wrapped.ciphertext
        if len(blob) != 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES or blob[0] != WRAP_FORMAT_VERSION:
            raise DecryptionFailed("A wrapped data key is malformed.")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            dek = AESGCM(kek).decrypt(nonce, body, wrap_aad(wrapped.person_id, wrapped.kek_id))
        except InvalidTag as exc:
            raise DecryptionFailed("A wrapped data key failed authentication.") from exc
        self._cache.put(cache_key, dek)
        return dek

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same DEK wrapped under the current KEK (a no-op if it already is)."""
        if wrapped.kek_id == self._keyring.current:
            return wrapped
        return self._wrap(wrapped.person_id, self.unwrap(wrapped))

    def forget(self, person_id: str) -> None:
        """Drop any cached DEK of ``person_id`` (after shredding or re-wrapping)."""
        self._cache.forget(person_id)

    def clear_cache(self) -> None:
        self._cache.clear()

    def _refresh_keyring(self) -> None:
        """Load the keyring again; the blind-index key must not have changed."""
        assert self._reload is not None
        with self._reload_lock:
            fresh = self._reload()
            if fresh.index_key != self._keyring.index_key:
                raise ConfigurationError(
                    "The reloaded keyring has a different blind-index key; refusing it."
                )
            self._keyring = fresh
            self._reloaded_at = time.monotonic()

    def _wrap(self, person_id: str, dek: bytes) -> WrappedKey:
        if (
            self._reload is not None
            and time.monotonic() - self._reloaded_at > self._reload_interval
        ):
            self._refresh_keyring()
        kek_id = self._keyring.current
        nonce = randomness.token_bytes(NONCE_BYTES)
        body = AESGCM(self._keyring.current_kek).encrypt(nonce, dek, wrap_aad(person_id, kek_id))
        return WrappedKey(
            person_id=person_id,
            kek_id=kek_id,
            ciphertext=bytes([WRAP_FORMAT_VERSION]) + nonce + body,
        )

    def _dek(self, key: KeySource) -> bytes:
        if isinstance(key, bytes):
            if len(key) != KEY_BYTES:
                raise ValueError(f"a data key is {KEY_BYTES} bytes")
            return key
        if isinstance(key, WrappedKey):
            return self.unwrap(key)
        if key.wrapped_dek is None or key.kek_id is None:
            raise DataErased()
        return self.unwrap(WrappedKey(key.id, key.kek_id, key.wrapped_dek))

    # --- fields -------------------------------------------------------------------

    def encrypt(
        self, key: KeySource, plaintext: str, *, table: str, row_id: str, field: str
    ) -> bytes:
        """Encrypt ``plaintext`` for the column ``table.field`` of row ``row_id``."""
        dek = self._dek(key)
        nonce = randomness.token_bytes(NONCE_BYTES)
        body = AESGCM(dek).encrypt(
            nonce, plaintext.encode("utf-8"), field_aad(table, row_id, field)
        )
        return bytes([FIELD_FORMAT_VERSION]) + nonce + body

    def decrypt(
        self, key: KeySource, ciphertext: bytes, *, table: str, row_id: str, field: str
    ) -> str:
        """Decrypt a field; :class:`DecryptionFailed` unless key, table, row and field match.

        :class:`DataErased` if ``key`` is a person whose DEK was shredded.
        """
        dek = self._dek(key)
        if len(ciphertext) < 1 + NONCE_BYTES + TAG_BYTES:
            raise DecryptionFailed("A ciphertext is too short.", table=table, field=field)
        if ciphertext[0] != FIELD_FORMAT_VERSION:
            raise DecryptionFailed(
                "A ciphertext has an unknown format version.", table=table, field=field
            )
        nonce, body = ciphertext[1 : 1 + NONCE_BYTES], ciphertext[1 + NONCE_BYTES :]
        try:
            plain = AESGCM(dek).decrypt(nonce, body, field_aad(table, row_id, field))
        except InvalidTag as exc:
            raise DecryptionFailed(table=table, field=field) from exc
        return plain.decode("utf-8")

    # --- blind index --------------------------------------------------------------

    def blind_index(self, kind: str, normalised_value: str) -> str:
        """HMAC-SHA256 of ``normalised_value`` under the subkey of ``kind``, as hex.

        Deterministic (the point of an index) and independent of the KEKs, so it
        survives master-key rotation. The caller normalises first (the identity
        package's ``compact``), because ``"110105 1990…"`` and ``"1101051990…"``
        must meet.
        """
        keyed = self._index_macs.get(kind)
        if keyed is None:
            raise ValueError(f"no blind index for kind {kind!r}")
        # A copy of an HMAC already keyed (its inner and outer hash states), as the
        # hmac module's documentation suggests for values that share a prefix — here
        # the key. The one-shot hmac.digest() sets OpenSSL's MAC up again on every
        # call (algorithm lookup, key schedule): 2.7 against 1.0 us per value, and a
        # verification computes about eight.
        mac = keyed.copy()
        mac.update(normalised_value.encode("utf-8"))
        return mac.hexdigest()


# --- master-key rotation (NIST SP 800-57 Part 1, cryptoperiods) ----------------------


@dataclass(frozen=True)
class RotationReport:
    """What a rotation run did.

    ``failed`` lists person ids whose wrapped key did not unwrap (ids only, no
    personal data); ``remaining`` counts people still not on ``target_kek_id`` when
    the run ended (failures, or people added under an old KEK meanwhile).
    """

    target_kek_id: str
    rewrapped: int
    already_current: int
    batches: int
    remaining: int
    failed: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every live wrap is on the target KEK: the old ones may be dropped."""
        return self.remaining == 0 and not self.failed


def _pending(target: str) -> ColumnElement[bool]:
    """People with a live wrapped key that is not under ``target``."""
    return (Person.wrapped_dek.is_not(None)) & ((Person.kek_id != target) | Person.kek_id.is_(None))


def rotate_master_key(
    session_factory: sessionmaker[Session],
    old: Vault | Keyring,
    new_keyring: Keyring,
    batch_size: int = 500,
    *,
    actor: str = "system:key-rotation",
) -> RotationReport:
    """Re-wrap every person's DEK under ``new_keyring.current``, without downtime.

    Envelope encryption makes rotation cheap: only the wrapped data keys move to the
    new KEK; field ciphertexts are never touched. The procedure:

    1. ``new = old.rotate()``, saved and deployed to every process. New people are
       then wrapped under the new KEK while existing wraps still unwrap with the
       old one, which ``new`` keeps.
    2. Run this. It re-wraps people in batches of ``batch_size``, each batch its own
       short transaction, so readers and writers keep working throughout.
    3. When the report is ``complete``, the old KEK may go (``new.without("k1")``).

    Idempotent and resumable: people already on the new KEK are skipped, so an
    interrupted run is simply started again. Each update is conditional on the row
    still holding the wrap that was read, so a concurrent erasure is never undone.

    ``old`` supplies the KEKs that wrapped the existing keys. Both keyrings must
    share one blind-index key, otherwise blind indexes would stop matching; that is
    refused with :class:`ConfigurationError`. An audit entry records the run
    (JR/T 0171-2020 asks for key-management operations to be recorded).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    old_keyring = old.keyring if isinstance(old, Vault) else old
    if old_keyring.index_key != new_keyring.index_key:
        raise ConfigurationError(
            "The new keyring has a different blind-index key; rotation would break lookups."
        )
    target = new_keyring.current
    # Unwrap with every KEK either keyring knows; wrap with the new current one only.
    worker = Vault(old_keyring.union(new_keyring), cache_size=0)

    with session_factory() as session:
        already_current = (
            session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.wrapped_dek.is_not(None), Person.kek_id == target)
            )
            or 0
        )

    rewrapped = 0
    batches = 0
    failed: list[str] = []
    last_id = ""
    while True:
        with session_factory() as session, session.begin():
            rows = session.execute(
                select(Person.id, Person.kek_id, Person.wrapped_dek)
                .where(_pending(target), Person.id > last_id)
                .order_by(Person.id)
                .limit(batch_size)
                .with_for_update()
            ).all()
            if not rows:
                break
            batches += 1
            for person_id, kek_id, wrapped_dek in rows:
                last_id = person_id
                if kek_id is None or wrapped_dek is None:
                    failed.append(person_id)
                    continue
                try:
                    fresh = worker.rewrap(WrappedKey(person_id, kek_id, wrapped_dek))
                except DecryptionFailed:
                    logger.error("key rotation: wrapped key of person %s did not unwrap", person_id)
                    failed.append(person_id)
                    continue
                result = cast(
                    "CursorResult[Any]",
                    session.execute(
                        update(Person)
                        .where(
                            Person.id == person_id,
                            Person.kek_id == kek_id,
                            Person.wrapped_dek == wrapped_dek,
                        )
                        .values(wrapped_dek=fresh.ciphertext, kek_id=fresh.kek_id)
                        .execution_options(synchronize_session=False),
                    ),
                )
                rewrapped += result.rowcount
        if isinstance(old, Vault):
            for person_id, _kek, _wrapped in rows:
                old.forget(person_id)
        logger.info("key rotation: batch %d done, %d re-wrapped so far", batches, rewrapped)

    with session_factory() as session, session.begin():
        remaining = (
            session.scalar(select(func.count()).select_from(Person).where(_pending(target))) or 0
        )
        report = RotationReport(
            target_kek_id=target,
            rewrapped=rewrapped,
            already_current=already_current,
            batches=batches,
            remaining=remaining,
            failed=tuple(failed),
        )
        audit.append(
            session,
            actor,
            "keys.rotated",
            f"kek:{target}",
            {
                "rewrapped": rewrapped,
                "already_current": already_current,
                "remaining": remaining,
                "failed": len(failed),
            },
        )
    logger.info(
        "key rotation to %s: %d re-wrapped, %d already current, %d remaining, %d failed",
        target,
        rewrapped,
        already_current,
        remaining,
        len(failed),
    )
    return report


# --- crypto-shredding (PIPL Art. 47) ----------------------------------------------------


def shred(person: Person, *, vault: Vault | None = None, at: datetime | None = None) -> None:
    """Destroy ``person``'s wrapped data key and record when.

    Changes the ORM object; the caller's transaction makes it durable. Pass the
    process's ``vault`` so its cache of unwrapped keys forgets this person at once.
    Shredding twice keeps the first ``shredded_at``.
    """
    person.wrapped_dek = None
    person.kek_id = None
    if person.shredded_at is None:
        person.shredded_at = at or utcnow()
    if vault is not None:
        vault.forget(person.id)


__all__ = [
    "BLIND_INDEX_KINDS",
    "DataErased",
    "DataKeyHolder",
    "DecryptionFailed",
    "KeySource",
    "RotationReport",
    "Vault",
    "WrappedKey",
    "field_aad",
    "rotate_master_key",
    "shred",
    "wrap_aad",
]


def count_wraps_by_kek(session: Session) -> dict[str, int]:
    """How many live data keys each master key wraps (shredded people excluded).

    A master key may leave the keyring only when this says it wraps nothing.
    """
    rows = session.execute(
        select(Person.kek_id, func.count())
        .where(Person.wrapped_dek.is_not(None))
        .group_by(Person.kek_id)
    ).all()
    return {str(kek_id): int(count) for kek_id, count in rows}
