"""Signing webhooks the Standard Webhooks way (https://www.standardwebhooks.com/).

Every message carries three headers:

* ``webhook-id`` — the message id, the same on every retry (receivers deduplicate on it);
* ``webhook-timestamp`` — Unix seconds when this attempt was signed;
* ``webhook-signature`` — ``v1,`` and the base64 HMAC-SHA256 (RFC 2104) of
  ``"{id}.{timestamp}.{body}"`` under the secret; several space-separated signatures
  may be present while a secret is being rotated.

Secrets look like ``whsec_`` followed by base64 of the key bytes (24 to 64 bytes by
the specification; we issue 32). :func:`verify` is what a receiver runs; it lives
here so the tests (and tenants reading our code) check against the same rules.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from realname.webhooks.errors import WebhookSignatureInvalid

SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix of every secret, not one
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
#: How far a receiver lets the timestamp drift from its clock (replay protection).
DEFAULT_TOLERANCE_SECONDS = 5 * 60

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


def generate_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_…`` secret (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookSignatureInvalid("The webhook secret is not base64.") from exc


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`WebhookSignatureInvalid` unless ``body`` was signed with ``secret``.

    ``headers`` is looked up in lower case (pass an ``httpx.Headers`` or a dict with
    lower-case names). The timestamp must be within ``tolerance`` seconds of ``now``.
    Comparison is constant-time.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get(HEADER_ID)
    raw_timestamp = lowered.get(HEADER_TIMESTAMP)
    presented = lowered.get(HEADER_SIGNATURE)
    if not message_id or not raw_timestamp or not presented:
        raise WebhookSignatureInvalid("A Standard Webhooks header is missing.")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as exc:
        raise WebhookSignatureInvalid("The webhook timestamp is not an integer.") from exc
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureInvalid("The webhook timestamp is outside the tolerance.")
    expected = sign(secret, message_id, timestamp, body).encode("ascii")
    for candidate in presented.split():
        if hmac.compare_digest(candidate.encode("ascii", "replace"), expected):
            return
    raise WebhookSignatureInvalid()


__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SECRET_PREFIX",
    "generate_secret",
    "secret_key",
    "sign",
    "signed_headers",
    "verify",
]
