"""Revocation by IETF Token Status List (draft-ietf-oauth-status-list).

Why this and not the W3C Bitstring Status List: SD-JWT VC (draft-ietf-oauth-sd-jwt-vc
§3.2.2.2) names the Token Status List as its status mechanism, the referenced token
carries ``status.status_list`` ``{idx, uri}``, and the list is a JWT signed like the
credential itself; the W3C list is a JSON-LD VC with GZIP and its own proof format.

A list is one status of ``bits`` (1, 2, 4 or 8) per credential, packed from the least
significant bit of byte 0 up (index 0 is the lowest bits of the first byte), ZLIB
(RFC 1950) compressed and base64url-encoded as ``lst``. Status 0x00 is VALID, 0x01
INVALID (revoked), 0x02 SUSPENDED. The list is published as a Status List Token:
a JWT with ``typ`` ``statuslist+jwt`` whose ``sub`` is the list's URI.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from realname.credentials.sdjwt import (
    Jws,
    SdJwtMalformed,
    b64url_decode,
    b64url_encode,
    sign_jws,
    verify_jws_signature,
)
from realname.errors import RealnameError

__all__ = [
    "STATUS_INVALID",
    "STATUS_LIST_TYP",
    "STATUS_SUSPENDED",
    "STATUS_VALID",
    "RevokeReason",
    "StatusList",
    "StatusListInvalid",
    "open_status_list_token",
    "sign_status_list_token",
]

STATUS_VALID = 0x00
STATUS_INVALID = 0x01
STATUS_SUSPENDED = 0x02
STATUS_LIST_TYP = "statuslist+jwt"
#: Decompressed lists larger than this are refused (a ZLIB bomb guard): 16 MiB.
MAX_BYTES = 16 * 1024 * 1024


class RevokeReason(StrEnum):
    """Why an issuer revokes a credential; recorded with the revocation, not in the list."""

    #: The subject exercised erasure (PIPL Art. 47): the credential must stop working.
    ERASURE = "erasure"
    #: The verified phone number was re-issued by the carrier to someone else.
    PHONE_REISSUED = "phone_reissued"
    #: The verification is found fraudulent.
    FRAUD = "fraud"


class StatusListInvalid(RealnameError):
    """A status list or Status List Token is malformed or not signed by its issuer."""

    code: ClassVar[str] = "STATUS_LIST_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "The status list is malformed or not signed by its issuer."


@dataclass
class StatusList:
    """A mutable list of ``size`` statuses of ``bits`` bits each."""

    bits: int = 1
    data: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if self.bits not in (1, 2, 4, 8):
            raise StatusListInvalid("bits is 1, 2, 4 or 8.")

    @classmethod
    def empty(cls, size: int, bits: int = 1) -> StatusList:
        """An all-VALID list with room for ``size`` statuses."""
        return cls(bits, bytearray((size * bits + 7) // 8))

    @property
    def capacity(self) -> int:
        return len(self.data) * 8 // self.bits

    def _locate(self, index: int) -> tuple[int, int, int]:
        if not 0 <= index < self.capacity:
            raise IndexError("status index out of range")
        per_byte = 8 // self.bits
        return index // per_byte, (index % per_byte) * self.bits, (1 << self.bits) - 1

    def get(self, index: int) -> int:
        # _locate inlined: a verifier asks one status per presentation.
        bits = self.bits
        if not 0 <= index < len(self.data) * 8 // bits:
            raise IndexError("status index out of range")
        per_byte = 8 // bits
        return (self.data[index // per_byte] >> (index % per_byte) * bits) & ((1 << bits) - 1)

    def set(self, index: int, status: int) -> None:
        byte, shift, mask = self._locate(index)
        if not 0 <= status <= mask:
            raise ValueError("status does not fit in bits")
        self.data[byte] = (self.data[byte] & ~(mask << shift) & 0xFF) | (status << shift)

    def encode(self) -> dict[str, Any]:
        """The JSON ``status_list`` object ``{"bits", "lst"}`` (ZLIB, level 9)."""
        return {"bits": self.bits, "lst": b64url_encode(zlib.compress(bytes(self.data), 9))}

    @classmethod
    def decode(cls, obj: Any) -> StatusList:
        """Parse a ``status_list`` object; raise :class:`StatusListInvalid` if malformed."""
        if not isinstance(obj, dict) or not isinstance(obj.get("lst"), str):
            raise StatusListInvalid()
        bits = obj.get("bits")
        if not isinstance(bits, int) or isinstance(bits, bool):
            raise StatusListInvalid()
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(b64url_decode(obj["lst"]), MAX_BYTES)
        except (zlib.error, SdJwtMalformed) as exc:
            raise StatusListInvalid() from exc
        if inflater.unconsumed_tail or not inflater.eof:
            raise StatusListInvalid("The status list is too large or truncated.")
        return cls(bits, bytearray(data))


def sign_status_list_token(
    status_list: StatusList,
    *,
    uri: str,
    key: Ed25519PrivateKey,
    kid: str,
    iat: int,
    ttl: int = 3600,
) -> str:
    """The Status List Token (JWT, ``typ`` ``statuslist+jwt``) publishing ``status_list``."""
    payload = {
        "sub": uri,
        "iat": iat,
        "exp": iat + ttl,
        "ttl": ttl,
        "status_list": status_list.encode(),
    }
    return sign_jws({"typ": STATUS_LIST_TYP, "kid": kid}, payload, key)


def open_status_list_token(token: str, *, uri: str, key: Ed25519PublicKey, now: int) -> StatusList:
    """Verify a Status List Token for ``uri`` and answer its list.

    Checks the ``typ``, the EdDSA signature by ``key``, that ``sub`` is the URI the
    credential pointed to (a list for another URI must not answer for this one), and
    that the token has not expired.
    """
    try:
        jws = Jws.parse(token)
    except SdJwtMalformed as exc:
        raise StatusListInvalid() from exc
    if jws.header.get("typ") != STATUS_LIST_TYP or not verify_jws_signature(jws, key):
        raise StatusListInvalid()
    exp = jws.payload.get("exp")
    if jws.payload.get("sub") != uri or (isinstance(exp, int) and exp <= now):
        raise StatusListInvalid("The status list is for another URI or has expired.")
    return StatusList.decode(jws.payload.get("status_list"))
