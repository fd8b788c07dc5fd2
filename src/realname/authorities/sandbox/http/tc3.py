"""TC3-HMAC-SHA256, the request signature of Tencent Cloud API 3.0 (签名方法 v3).

The steps, as Tencent's "Signature v3" document gives them:

1. the **canonical request**: ``HTTPRequestMethod``, ``CanonicalURI`` (``/``),
   ``CanonicalQueryString`` (empty for POST), ``CanonicalHeaders`` (each signed
   header as ``key:value\\n``, key and value lower-cased and trimmed, in the order of
   ``SignedHeaders``), ``SignedHeaders`` (``content-type;host`` at least) and the
   lower-case hex SHA-256 of the payload, joined by ``\\n``;
2. the **string to sign**: ``TC3-HMAC-SHA256``, the request timestamp, the
   credential scope ``<UTC date>/<service>/tc3_request`` and the hex SHA-256 of the
   canonical request, joined by ``\\n``;
3. the **signing key**: HMAC-SHA256 chained over ``"TC3" + SecretKey`` → UTC date →
   service → ``tc3_request``;
4. the **signature**: hex HMAC-SHA256 of the string to sign under the signing key,
   sent as ``Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<scope>,
   SignedHeaders=<headers>, Signature=<hex>``.

Everything here is a pure function; :func:`verify` raises :class:`Tc3Error` with the
API 3.0 error code a Tencent gateway answers. The tests check the two worked examples
of Tencent's document (signatures ``2230eefd…`` and ``72e494ea…``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
#: A request whose timestamp is further than this from the server's clock has expired.
MAX_CLOCK_SKEW_SECONDS = 300
#: ``X-TC-Content-SHA256`` value that makes the payload hash that of this literal.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AUTHORIZATION = re.compile(
    r"(?P<algorithm>\S+)\s+"
    r"Credential=(?P<secret_id>[^/,\s]+)/(?P<date>[^/,\s]+)/(?P<service>[^/,\s]+)/"
    r"(?P<terminator>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+)\s*,\s*"
    r"Signature=(?P<signature>[0-9a-fA-F]+)\s*"
)


class Tc3Error(Exception):
    """A request failed authentication; ``code`` is the API 3.0 error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Authorization:
    """A parsed ``Authorization`` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def credential_scope(self) -> str:
        return credential_scope(self.date, self.service)


def utc_date(timestamp: int) -> str:
    """The UTC calendar date of a Unix timestamp, as the credential scope writes it."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def credential_scope(date: str, service: str) -> str:
    return f"{date}/{service}/tc3_request"


def payload_hash(payload: bytes, *, unsigned: bool = False) -> str:
    """Hex SHA-256 of the body (or of ``UNSIGNED-PAYLOAD`` when asked not to sign it)."""
    return hashlib.sha256(UNSIGNED_PAYLOAD.encode() if unsigned else payload).hexdigest()


def canonical_request(
    method: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_sha256: str,
    *,
    uri: str = "/",
    query: str = "",
) -> str:
    """Step 1. ``headers`` maps lower-case names to values; every signed one must be there."""
    canonical_headers = "".join(
        f"{name}:{headers[name].strip().lower()}\n" for name in signed_headers
    )
    return "\n".join(
        [method.upper(), uri, query, canonical_headers, ";".join(signed_headers), payload_sha256]
    )


def string_to_sign(timestamp: int, scope: str, canonical: str) -> str:
    """Step 2."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, service: str) -> bytes:
    """Step 3: ``"TC3" + SecretKey`` → date → service → ``tc3_request``."""
    key = _hmac(f"TC3{secret_key}".encode(), date)
    key = _hmac(key, service)
    return _hmac(key, "tc3_request")


def signature(secret_key: str, date: str, service: str, to_sign: str) -> str:
    """Step 4: the hex signature."""
    return hmac.new(
        signing_key(secret_key, date, service), to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def authorization_header(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    timestamp: int,
    headers: Mapping[str, str],
    payload: bytes,
    signed_headers: Sequence[str] = ("content-type", "host"),
    method: str = "POST",
) -> str:
    """The ``Authorization`` value for a request (what a client such as the SDK sends)."""
    date = utc_date(timestamp)
    scope = credential_scope(date, service)
    canonical = canonical_request(method, headers, signed_headers, payload_hash(payload))
    sig = signature(secret_key, date, service, string_to_sign(timestamp, scope, canonical))
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={';'.join(signed_headers)}, Signature={sig}"
    )


def parse_authorization(value: str | None) -> Authorization:
    """Parse an ``Authorization`` header; ``AuthFailure.InvalidAuthorization`` if malformed."""
    if not value:
        raise Tc3Error("AuthFailure.InvalidAuthorization", "The Authorization header is missing.")
    match = _AUTHORIZATION.fullmatch(value.strip())
    if match is None or match["algorithm"] != ALGORITHM or match["terminator"] != "tc3_request":
        raise Tc3Error(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header is not a TC3-HMAC-SHA256 authorization.",
        )
    signed = tuple(match["signed_headers"].split(";"))
    if (
        "content-type" not in signed
        or "host" not in signed
        or any(name != name.lower() or not name for name in signed)
    ):
        raise Tc3Error(
            "AuthFailure.InvalidAuthorization",
            "SignedHeaders must list lower-case header names including content-type and host.",
        )
    return Authorization(
        secret_id=match["secret_id"],
        date=match["date"],
        service=match["service"],
        signed_headers=signed,
        signature=match["signature"].lower(),
    )


def verify(
    *,
    authorization: str | None,
    timestamp: str | None,
    headers: Mapping[str, str],
    payload: bytes,
    secrets: Mapping[str, str],
    service: str,
    now: float,
    method: str = "POST",
) -> Authorization:
    """Check a request's TC3 signature against the known ``secrets`` (SecretId → key).

    ``headers`` maps lower-case header names to values as received. Raises
    :class:`Tc3Error` with ``AuthFailure.InvalidAuthorization`` (malformed header,
    wrong service, unsigned required header), ``MissingParameter`` /
    ``InvalidParameter`` (no or non-numeric ``X-TC-Timestamp``),
    ``AuthFailure.SignatureExpire`` (more than five minutes off), and
    ``AuthFailure.SecretIdNotFound`` or ``AuthFailure.SignatureFailure``.
    """
    parsed = parse_authorization(authorization)
    if parsed.service != service:
        raise Tc3Error(
            "AuthFailure.InvalidAuthorization",
            f"The credential scope names service {parsed.service!r}, not {service!r}.",
        )
    missing = [name for name in parsed.signed_headers if name not in headers]
    if missing:
        raise Tc3Error(
            "AuthFailure.InvalidAuthorization",
            f"Signed header {missing[0]!r} is not in the request.",
        )
    if timestamp is None:
        raise Tc3Error("MissingParameter", "The request is missing X-TC-Timestamp.")
    if not timestamp.isdigit():
        raise Tc3Error("InvalidParameter", "X-TC-Timestamp must be a Unix timestamp in seconds.")
    stamp = int(timestamp)
    if abs(now - stamp) > MAX_CLOCK_SKEW_SECONDS:
        raise Tc3Error(
            "AuthFailure.SignatureExpire",
            "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
        )
    secret_key = secrets.get(parsed.secret_id)
    if secret_key is None:
        raise Tc3Error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    if parsed.date != utc_date(stamp):
        raise Tc3Error(
            "AuthFailure.SignatureFailure",
            "The credential date is not the UTC date of X-TC-Timestamp.",
        )
    unsigned = headers.get("x-tc-content-sha256", "").strip() == UNSIGNED_PAYLOAD
    canonical = canonical_request(
        method, headers, parsed.signed_headers, payload_hash(payload, unsigned=unsigned)
    )
    expected = signature(
        secret_key, parsed.date, service, string_to_sign(stamp, parsed.credential_scope, canonical)
    )
    if not hmac.compare_digest(expected, parsed.signature):
        raise Tc3Error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is "
            "correct.",
        )
    return parsed
