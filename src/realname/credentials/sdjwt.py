"""SD-JWT (RFC 9901) and its key binding, with Ed25519 (JWS ``alg`` ``EdDSA``, RFC 8037).

An SD-JWT in compact form is ``<issuer-signed JWT>~<Disclosure>~…~<Disclosure>~``
and, presented with key binding, ends in a KB-JWT instead of the last empty part.
A Disclosure is ``base64url(JSON [salt, claim name, claim value])``; its digest,
``base64url(SHA-256(ascii(disclosure)))``, sits in the payload's ``_sd`` array.

Why hand-written and not the ``sd-jwt`` reference library (0.10.4, February 2024):
its verifier checks the KB-JWT with a hard-coded ``ES256`` (so an Ed25519 holder
key always fails), silently ignores Disclosures that no digest references (RFC 9901
§7.1 asks to reject them), does not check ``exp``/``nbf``/``iat`` nor the KB-JWT's
``iat``, raises bare ``ValueError`` for every failure (a coded reason per failure
is a requirement here), and ships no type information. Issuance, presentation and
verification of the flat claim set realname issues take a page on ``cryptography``;
the test suite checks this module against the RFC's own Disclosure digests and
against the reference library as an independent parser.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import orjson
import pybase64
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realname.errors import RealnameError

__all__ = [
    "ALG_EDDSA",
    "KB_JWT_TYP",
    "SD_ALG",
    "Disclosure",
    "Jws",
    "JwsParts",
    "SdJwt",
    "SdJwtMalformed",
    "b64url_decode",
    "b64url_encode",
    "ed25519_public_key",
    "eddsa_signed",
    "jwk_to_public_key",
    "jws_parts",
    "make_disclosure",
    "public_key_to_jwk",
    "sd_hash",
    "sd_jwt_parts",
    "sign_jws",
    "verify_jws_signature",
]

ALG_EDDSA = "EdDSA"
KB_JWT_TYP = "kb+jwt"
SD_ALG = "sha-256"
_SEPARATOR = "~"


class SdJwtMalformed(RealnameError):
    """The SD-JWT, a Disclosure or a JWS is not well-formed."""

    code: ClassVar[str] = "VC_MALFORMED"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The credential presentation is malformed."


_STD_TO_URL = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    # binascii directly: ``base64.urlsafe_b64encode`` is two Python-level calls
    # around the same C function, and the verifier encodes a digest per presentation.
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=").decode()


_PADDING = ("", "", "==", "=")  # by len % 4; 1 is never valid


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise :class:`SdJwtMalformed` on anything else."""
    # Every presentation decodes about a kilobyte of base64url, so it goes to
    # pybase64's SIMD decoder (about 3x the stdlib's ``binascii`` here), in its
    # validating mode, which refuses every byte outside the alphabet (whitespace,
    # non-ASCII and the rest). Given ``altchars`` it still takes ``+`` and ``/``
    # (with a DeprecationWarning), and it takes ``=`` wherever padding may stand,
    # so the standard alphabet's own characters and padding are refused first:
    # three ``in`` scans run at memchr speed, unlike a per-character translation.
    if len(text) % 4 == 1 or "=" in text or "+" in text or "/" in text:
        raise SdJwtMalformed("Not base64url.")
    try:
        return pybase64.b64decode(text + _PADDING[len(text) % 4], altchars="-_", validate=True)
    except ValueError as exc:  # binascii.Error, or a str that is not ASCII
        raise SdJwtMalformed("Not base64url.") from exc


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _json_object(data: bytes) -> dict[str, Any]:
    """The JSON object in ``data`` (UTF-8); raise :class:`SdJwtMalformed` otherwise.

    orjson, straight from the decoded bytes (no ``str`` in between), at about twice
    the stdlib's speed on a credential payload. It reads I-JSON (RFC 7493), which is
    what a JWS carries, and differs from ``json.loads`` only where that one is lax:
    ``NaN``/``Infinity``, lone surrogate escapes and non-UTF-8 text are refused
    (``json.loads`` accepts the first two), and an integer beyond 64 bits is read as
    a float (RFC 7493 §2.2 asks issuers to stay within 2**53; every number realname
    checks must be an ``int``, so such a value is refused where it is checked).
    Duplicate names keep the last value, as with ``json.loads`` (RFC 7515 §5.2
    allows exactly that). Nesting deeper than 1024 is refused rather than
    overflowing the stack.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SdJwtMalformed("Not JSON.") from exc
    if not isinstance(value, dict):
        raise SdJwtMalformed("Not a JSON object.")
    return value


def public_key_to_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP JWK of an Ed25519 public key (RFC 8037 §2)."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def jwk_to_public_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """The Ed25519 key of an OKP JWK; raise :class:`SdJwtMalformed` for anything else."""
    x = jwk.get("x")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(x, str):
        raise SdJwtMalformed("Only Ed25519 OKP keys are accepted.")
    return _jwk_x_to_public_key(x)


@functools.lru_cache(maxsize=4096)
def _jwk_x_to_public_key(x: str) -> Ed25519PublicKey:
    # Cached by the exact ``x`` text: a holder presents the same ``cnf`` key every
    # time, and a refused ``x`` raises, which lru_cache never stores.
    raw = b64url_decode(x)
    if len(raw) != 32:
        raise SdJwtMalformed("An Ed25519 key is 32 bytes.")
    return ed25519_public_key(raw)


@functools.lru_cache(maxsize=4096)
def ed25519_public_key(raw: bytes) -> Ed25519PublicKey:
    """The key object for 32 raw key bytes, loaded once per distinct key.

    Holders present the same ``cnf`` key and registries hold few issuer keys, so
    a verifier loads each key once rather than per presentation. The object is
    immutable and derived from the bytes alone, so sharing it weakens no check.
    """
    return Ed25519PublicKey.from_public_bytes(raw)


_HEADER_CACHE_MAX_CHARS = 256


@functools.lru_cache(maxsize=256)
def _cached_header(segment: str) -> Mapping[str, Any]:
    # Every credential of an issuer key carries the same protected header, and every
    # KB-JWT the same one, so the decoded header is kept by its exact text (only
    # short ones, so the cache stays small), read-only since every caller shares it.
    # A refused header raises, which lru_cache never stores.
    return MappingProxyType(_json_object(b64url_decode(segment)))


#: A split compact JWS: header (read-only), payload, signing input and signature.
JwsParts = tuple[Mapping[str, Any], dict[str, Any], bytes, bytes]


def jws_parts(compact: str) -> JwsParts:
    """Split and decode a compact JWS without building a :class:`Jws`.

    For the verifier, which reads each part once per presentation and needs no
    object around them: the header is a read-only view, shared by every JWS with
    the same header text. Raises :class:`SdJwtMalformed` exactly as
    :meth:`Jws.parse` does.
    """
    parts = compact.split(".")
    if len(parts) != 3:
        raise SdJwtMalformed("A JWS has three parts.")
    head = parts[0]
    header: Mapping[str, Any]
    if len(head) > _HEADER_CACHE_MAX_CHARS:
        header = _json_object(b64url_decode(head))
    else:
        header = _cached_header(head)
    payload = _json_object(b64url_decode(parts[1]))
    signature = b64url_decode(parts[2])
    # The decodes above proved the parts ASCII; the signing input is the compact
    # form up to the last dot, sliced rather than re-joined.
    return header, payload, compact[: len(compact) - len(parts[2]) - 1].encode("ascii"), signature


@dataclass(frozen=True, slots=True)
class Jws:
    """A parsed compact JWS: header, payload and the bytes the signature covers."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    compact: str

    @classmethod
    def parse(cls, compact: str) -> Jws:
        header, payload, signing_input, signature = jws_parts(compact)
        return cls(dict(header), payload, signing_input, signature, compact)


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], key: Ed25519PrivateKey) -> str:
    """A compact JWS over JSON ``payload``, signed with Ed25519 (``alg`` forced to EdDSA)."""
    protected = b64url_encode(_json_bytes({**header, "alg": ALG_EDDSA}))
    body = b64url_encode(_json_bytes(dict(payload)))
    signature = key.sign(f"{protected}.{body}".encode("ascii"))
    return f"{protected}.{body}.{b64url_encode(signature)}"


def verify_jws_signature(jws: Jws, key: Ed25519PublicKey) -> bool:
    """Whether ``jws`` is an EdDSA JWS that ``key`` signed. ``alg`` is pinned, never trusted."""
    return eddsa_signed(jws.header, jws.signing_input, jws.signature, key)


def eddsa_signed(
    header: Mapping[str, Any], signing_input: bytes, signature: bytes, key: Ed25519PublicKey
) -> bool:
    """:func:`verify_jws_signature` over the parts :func:`jws_parts` answers."""
    if header.get("alg") != ALG_EDDSA:
        return False
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One object-property Disclosure (RFC 9901 §4.2.1): salt, claim name, value."""

    encoded: str
    salt: str
    name: str
    value: Any

    @property
    def digest(self) -> str:
        """``base64url(SHA-256(ascii(encoded)))`` (RFC 9901 §4.2.3)."""
        return b64url_encode(hashlib.sha256(self.encoded.encode("ascii")).digest())

    @classmethod
    def parse(cls, encoded: str) -> Disclosure:
        try:
            value = orjson.loads(b64url_decode(encoded))  # as _json_object reads JSON
        except orjson.JSONDecodeError as exc:
            raise SdJwtMalformed("A Disclosure is base64url JSON.") from exc
        # Array-element Disclosures (two items) are never issued by realname.
        if not (
            isinstance(value, list)
            and len(value) == 3
            and isinstance(value[0], str)
            and isinstance(value[1], str)
        ):
            raise SdJwtMalformed("A Disclosure is [salt, claim name, value].")
        return cls(encoded, value[0], value[1], value[2])


def make_disclosure(name: str, value: Any, salt: str | None = None) -> Disclosure:
    """A new Disclosure with 128 random bits of salt (RFC 9901 §9.3)."""
    if name in ("_sd", "..."):
        raise ValueError("reserved claim name")
    salt = b64url_encode(secrets.token_bytes(16)) if salt is None else salt
    encoded = b64url_encode(_json_bytes([salt, name, value]))
    return Disclosure(encoded, salt, name, value)


def sd_hash(issuer_jwt: str, disclosures: Iterable[str]) -> str:
    """The KB-JWT ``sd_hash``: the digest of ``<JWT>~<D1>~…~<Dn>~`` (RFC 9901 §4.3.1)."""
    presented = _SEPARATOR.join([issuer_jwt, *disclosures]) + _SEPARATOR
    return b64url_encode(hashlib.sha256(presented.encode("ascii")).digest())


def sd_jwt_parts(compact: str) -> tuple[str, tuple[str, ...], str | None]:
    """The issuer JWT, Disclosures and KB-JWT of an SD-JWT, as :meth:`SdJwt.parse` splits it."""
    parts = compact.split(_SEPARATOR)
    if len(parts) < 2 or not parts[0]:
        raise SdJwtMalformed("An SD-JWT is <JWT>~[<Disclosure>~]…[<KB-JWT>].")
    disclosures = tuple(parts[1:-1])
    if "" in disclosures:
        raise SdJwtMalformed("Empty Disclosure.")
    return parts[0], disclosures, parts[-1] or None


@dataclass(frozen=True, slots=True)
class SdJwt:
    """An SD-JWT or SD-JWT+KB in compact form, split but not yet verified."""

    issuer_jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None

    @classmethod
    def parse(cls, compact: str) -> SdJwt:
        return cls(*sd_jwt_parts(compact))

    def serialize(self) -> str:
        return (
            _SEPARATOR.join([self.issuer_jwt, *self.disclosures]) + _SEPARATOR + (self.kb_jwt or "")
        )

    def select(self, names: Iterable[str]) -> SdJwt:
        """The same SD-JWT keeping only the Disclosures of claims named in ``names``."""
        wanted = set(names)
        kept = tuple(d for d in self.disclosures if Disclosure.parse(d).name in wanted)
        return SdJwt(self.issuer_jwt, kept, None)

    def bind(self, holder_key: Ed25519PrivateKey, *, nonce: str, audience: str, iat: int) -> str:
        """The presentation with a KB-JWT signed by the holder (RFC 9901 §4.3)."""
        payload = {
            "iat": iat,
            "aud": audience,
            "nonce": nonce,
            "sd_hash": sd_hash(self.issuer_jwt, self.disclosures),
        }
        kb_jwt = sign_jws({"typ": KB_JWT_TYP}, payload, holder_key)
        return SdJwt(self.issuer_jwt, self.disclosures, kb_jwt).serialize()
