"""Master keys: a versioned keyring of key-encryption keys plus a stable blind-index key.

Envelope encryption (DESIGN §9; JR/T 0171-2020 on storing personal financial
information; NIST SP 800-57 Part 1 on key management):
each person's data key (DEK) is wrapped by a key-encryption key (KEK). The keyring
holds every KEK still needed to unwrap (ids ``k1``, ``k2``, …) and marks one
*current* for new wraps, so the master key can rotate while old wraps stay readable
(see :func:`realname.privacy.vault.rotate_master_key`).

The **blind-index key** is separate and never rotates with the KEKs: a blind index
is a lookup key stored in the database, and changing its key would silently break
every lookup until all indexes were recomputed.

Key material is loaded by :func:`load_keyring`, in this order:

1. ``REALNAME_MASTER_KEY`` — either base64 of 32 bytes (the KEK ``k1`` and the index
   key are both derived from it by HKDF-SHA256, RFC 5869, under distinct labels), or
   a JSON keyring in the file format below;
2. the keyring file (``Settings.resolved_keyring_file``);
3. only when ``require_keys`` is false: a freshly generated *development* keyring,
   written to that file with mode 0600 and announced by a warning.

File format (JSON, base64 values)::

    {"version": 1, "current": "k2",
     "keks": {"k1": "<32 bytes>", "k2": "<32 bytes>"},
     "index_key": "<32 bytes>"}
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from realname.config import Settings
from realname.errors import ConfigurationError

logger = logging.getLogger(__name__)

KEY_BYTES = 32
KEYRING_FORMAT_VERSION = 1
_KEK_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_NUMBERED_ID = re.compile(r"^k(\d+)$")

# HKDF "info" labels (RFC 5869 §3.2): one per purpose, so keys derived from the same
# master secret are independent.
_LABEL_KEK = b"realname/v1/kek"
_LABEL_INDEX = b"realname/v1/blind-index"


class DevelopmentKeyWarning(UserWarning):
    """A development keyring was generated; data encrypted with it is not protected."""


def hkdf_sha256(secret: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    """Derive a key from ``secret`` for the purpose named by ``info`` (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def _b64decode(value: str, what: str) -> bytes:
    """Strict base64 (RFC 4648 §4) or base64url (§5), padding optional."""
    text = value.strip()
    padded = text + "=" * (-len(text) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise ConfigurationError(f"{what} is not valid base64.")


def _b64encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


@dataclass(frozen=True)
class Keyring:
    """Versioned KEKs (one current) and the blind-index key; immutable.

    ``repr`` shows only the KEK ids, never key bytes, so a keyring that ends up in a
    log line or a traceback leaks nothing.
    """

    keks: Mapping[str, bytes] = field(repr=False)
    current: str
    index_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keks:
            raise ConfigurationError("The keyring holds no master key.")
        for kek_id, key in self.keks.items():
            if not _KEK_ID.match(kek_id):
                raise ConfigurationError("A master key id is malformed.", kek_id_length=len(kek_id))
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"Master key {kek_id!r} must be {KEY_BYTES} bytes.", kek_id=kek_id
                )
        if self.current not in self.keks:
            raise ConfigurationError("The keyring's current master key is not in the keyring.")
        if len(self.index_key) != KEY_BYTES:
            raise ConfigurationError(f"The blind-index key must be {KEY_BYTES} bytes.")
        object.__setattr__(self, "keks", MappingProxyType(dict(self.keks)))

    # --- construction -------------------------------------------------------------

    @classmethod
    def generate(cls) -> Keyring:
        """A new keyring with one random KEK ``k1`` and a random index key."""
        return cls(
            keks={"k1": secrets.token_bytes(KEY_BYTES)},
            current="k1",
            index_key=secrets.token_bytes(KEY_BYTES),
        )

    @classmethod
    def from_master_key(cls, master: bytes) -> Keyring:
        """The keyring implied by a single 32-byte master secret.

        KEK ``k1`` and the index key are derived with HKDF under distinct labels,
        so neither key is the raw secret and each is used for one purpose only
        (NIST SP 800-57 Part 1 §5.2, key usage).
        """
        if len(master) != KEY_BYTES:
            raise ConfigurationError(f"The master key must be {KEY_BYTES} bytes.")
        return cls(
            keks={"k1": hkdf_sha256(master, _LABEL_KEK)},
            current="k1",
            index_key=hkdf_sha256(master, _LABEL_INDEX),
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """Parse the JSON keyring format; any defect is a :class:`ConfigurationError`."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError("The keyring is not valid JSON.") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Keyring:
        if not isinstance(data, dict):
            raise ConfigurationError("The keyring must be a JSON object.")
        version = data.get("version", KEYRING_FORMAT_VERSION)
        if version != KEYRING_FORMAT_VERSION:
            raise ConfigurationError("The keyring format version is not supported.")
        keks = data.get("keks")
        current = data.get("current")
        index_key = data.get("index_key")
        if not isinstance(keks, dict) or not isinstance(current, str):
            raise ConfigurationError("The keyring needs 'keks' (object) and 'current' (string).")
        if not isinstance(index_key, str):
            raise ConfigurationError("The keyring needs 'index_key' (base64 string).")
        decoded: dict[str, bytes] = {}
        for kek_id, value in keks.items():
            if not isinstance(value, str):
                raise ConfigurationError("Every master key must be a base64 string.")
            decoded[str(kek_id)] = _b64decode(value, "A master key")
        return cls(keks=decoded, current=current, index_key=_b64decode(index_key, "index_key"))

    # --- use ----------------------------------------------------------------------

    @property
    def kek_ids(self) -> tuple[str, ...]:
        return tuple(self.keks)

    @property
    def current_kek(self) -> bytes:
        return self.keks[self.current]

    def kek(self, kek_id: str) -> bytes | None:
        """The KEK with this id, or ``None`` if the keyring no longer holds it."""
        return self.keks.get(kek_id)

    def rotate(self) -> Keyring:
        """A keyring with a new random current KEK; older KEKs stay for unwrapping.

        The index key is unchanged, so blind indexes survive the rotation.
        """
        new_id = self._next_id()
        keks = dict(self.keks)
        keks[new_id] = secrets.token_bytes(KEY_BYTES)
        return Keyring(keks=keks, current=new_id, index_key=self.index_key)

    def without(self, kek_id: str) -> Keyring:
        """A keyring without ``kek_id``; used once every wrap has moved off it."""
        if kek_id == self.current:
            raise ConfigurationError("The current master key cannot be removed.")
        if kek_id not in self.keks:
            raise ConfigurationError("That master key is not in the keyring.", kek_id=kek_id)
        keks = {k: v for k, v in self.keks.items() if k != kek_id}
        return Keyring(keks=keks, current=self.current, index_key=self.index_key)

    def union(self, other: Keyring) -> Keyring:
        """All KEKs of both keyrings, with ``other``'s current KEK and index key.

        Refuses two different keys under the same id, and two different index keys
        (which would mean the keyrings are not versions of one another).
        """
        if other.index_key != self.index_key:
            raise ConfigurationError("The keyrings have different blind-index keys.")
        keks = dict(self.keks)
        for kek_id, key in other.keks.items():
            if kek_id in keks and not secrets.compare_digest(keks[kek_id], key):
                raise ConfigurationError("Two different master keys share one id.", kek_id=kek_id)
            keks[kek_id] = key
        return Keyring(keks=keks, current=other.current, index_key=other.index_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": KEYRING_FORMAT_VERSION,
            "current": self.current,
            "keks": {kek_id: _b64encode(key) for kek_id, key in self.keks.items()},
            "index_key": _b64encode(self.index_key),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def _next_id(self) -> str:
        numbers = [int(m.group(1)) for k in self.keks if (m := _NUMBERED_ID.match(k))]
        candidate = max(numbers, default=0) + 1
        while f"k{candidate}" in self.keks:
            candidate += 1
        return f"k{candidate}"


def parse_master_key(value: str) -> Keyring:
    """Interpret ``REALNAME_MASTER_KEY``: a JSON keyring, or base64 of 32 bytes."""
    stripped = value.strip()
    if not stripped:
        raise ConfigurationError("REALNAME_MASTER_KEY is empty.")
    if stripped.startswith("{"):
        return Keyring.from_json(stripped)
    master = _b64decode(stripped, "REALNAME_MASTER_KEY")
    if len(master) != KEY_BYTES:
        raise ConfigurationError(
            f"REALNAME_MASTER_KEY must be base64 of exactly {KEY_BYTES} bytes or a JSON keyring."
        )
    return Keyring.from_master_key(master)


def read_keyring_file(path: Path) -> Keyring:
    """Read a keyring file; warns (in the log) when others can read it."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            "The keyring file cannot be read.", path=str(path), reason=type(exc).__name__
        ) from exc
    if os.name == "posix" and mode & 0o077:
        logger.warning(
            "keyring file %s is readable by group or others (mode %o); chmod 600 it",
            path,
            mode & 0o777,
        )
    return Keyring.from_json(text)


def _write_private_temp(keyring: Keyring, directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=".keyring-", suffix=".tmp", dir=directory)
    tmp = Path(name)  # mkstemp creates the file with mode 0600 (owner only)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_keyring(keyring: Keyring, path: Path) -> None:
    """Write ``keyring`` to ``path`` atomically, readable by the owner only (0600).

    The keyring goes to a private temporary file in the same directory, is fsynced,
    and replaces ``path`` in one ``rename``: a crash leaves either the old keyring
    or the new one, never half of one — losing a KEK would lose every wrapped key.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_private_temp(keyring, path.parent)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _create_keyring_file(keyring: Keyring, path: Path) -> bool:
    """Write ``keyring`` to ``path`` only if no file is there yet; ``True`` if written.

    ``link`` fails when the target exists, so two processes starting at once cannot
    overwrite each other's fresh development keyring, and a reader never sees half a
    file. Where the filesystem has no hard links, an exclusive create does the same
    job (without the all-or-nothing guarantee).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_private_temp(keyring, path.parent)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return True


_DEV_KEY_MESSAGE = (
    "realname generated a DEVELOPMENT master keyring at {path}. Data encrypted with it "
    "is only as safe as that file. Never use it in production: set REALNAME_MASTER_KEY "
    "or provide a keyring file, and set REALNAME_REQUIRE_KEYS=true."
)


def load_keyring(settings: Settings) -> Keyring:
    """Load the keyring from the environment or the keyring file (see module docstring).

    Raises :class:`ConfigurationError` when key material is missing (and
    ``settings.require_keys`` is set), unreadable or invalid; the message never
    contains key bytes.
    """
    if settings.master_key is not None:
        return parse_master_key(settings.master_key.get_secret_value())

    path = settings.resolved_keyring_file
    if path.exists():
        return read_keyring_file(path)

    if settings.require_keys:
        raise ConfigurationError(
            "No master key is configured: set REALNAME_MASTER_KEY or provide the keyring "
            "file (REALNAME_KEYRING_FILE).",
            path=str(path),
        )

    keyring = Keyring.generate()
    if not _create_keyring_file(keyring, path):
        # Another process generated one first; use theirs so both agree.
        return read_keyring_file(path)
    message = _DEV_KEY_MESSAGE.format(path=path)
    logger.warning(message)
    warnings.warn(message, DevelopmentKeyWarning, stacklevel=2)
    return keyring


__all__ = [
    "KEY_BYTES",
    "DevelopmentKeyWarning",
    "Keyring",
    "hkdf_sha256",
    "load_keyring",
    "parse_master_key",
    "read_keyring_file",
    "save_keyring",
]
