"""Privacy: field encryption, blind indexes, master keys, rotation and erasure.

DESIGN §9 (PIPL, JR/T 0171-2020). The public surface:

* :func:`load_keyring`, :class:`Keyring`, :func:`save_keyring` — master keys
  (:mod:`realname.privacy.keys`);
* :class:`Vault` — per-person data keys, field encryption, blind indexes;
  :func:`rotate_master_key` — re-wrap every data key under a new master key;
  :func:`shred` — crypto-shredding of one person (all in :mod:`realname.privacy.vault`).
"""

from realname.privacy.keys import (
    DevelopmentKeyWarning,
    Keyring,
    load_keyring,
    save_keyring,
)
from realname.privacy.vault import (
    BLIND_INDEX_KINDS,
    DataErased,
    DecryptionFailed,
    RotationReport,
    Vault,
    WrappedKey,
    rotate_master_key,
    shred,
)

__all__ = [
    "BLIND_INDEX_KINDS",
    "DataErased",
    "DecryptionFailed",
    "DevelopmentKeyWarning",
    "Keyring",
    "RotationReport",
    "Vault",
    "WrappedKey",
    "load_keyring",
    "rotate_master_key",
    "save_keyring",
    "shred",
]
