"""Standard Webhooks signatures: the specification's vector, round trips, tampering."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.webhooks import signing
from realname.webhooks.errors import WebhookSignatureInvalid

# The test vector of the Standard Webhooks specification (also svix-webhooks'
# TestWebhookSign): someone else's numbers, so a shared misunderstanding cannot pass.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specification_vector() -> None:
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == (
        VECTOR_SIGNATURE
    )
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)
    # The prefix is optional when a receiver stores the bare base64.
    signing.verify(VECTOR_SECRET.removeprefix("whsec_"), headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_generated_secrets_are_32_random_bytes() -> None:
    first, second = signing.generate_secret(), signing.generate_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


@given(message_id=st.text(min_size=1, max_size=40), body=st.binary(max_size=500))
def test_sign_then_verify_round_trips(message_id: str, body: bytes) -> None:
    secret = signing.generate_secret()
    headers = signing.signed_headers(secret, message_id, 1_700_000_000, body)
    signing.verify(secret, headers, body, now=1_700_000_000)


@given(body=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0))
def test_any_changed_byte_fails(body: bytes, flip: int) -> None:
    secret = signing.generate_secret()
    headers = signing.signed_headers(secret, "msg_1", 1_700_000_000, body)
    index = flip % len(body)
    tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
    with pytest.raises(WebhookSignatureInvalid):
        signing.verify(secret, headers, tampered, now=1_700_000_000)


def test_wrong_secret_stale_timestamp_and_missing_headers_fail() -> None:
    secret = signing.generate_secret()
    headers = signing.signed_headers(secret, "msg_1", 1_700_000_000, b"{}")
    with pytest.raises(WebhookSignatureInvalid):
        signing.verify(signing.generate_secret(), headers, b"{}", now=1_700_000_000)
    with pytest.raises(WebhookSignatureInvalid, match="tolerance"):
        signing.verify(secret, headers, b"{}", now=1_700_000_000 + 301)
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {k: v for k, v in headers.items() if k != missing}
        with pytest.raises(WebhookSignatureInvalid, match="missing"):
            signing.verify(secret, partial, b"{}", now=1_700_000_000)


def test_one_matching_signature_among_several_is_enough() -> None:
    """During a secret rotation a sender lists several space-separated signatures."""
    old, new = signing.generate_secret(), signing.generate_secret()
    headers = signing.signed_headers(new, "msg_1", 1_700_000_000, b"{}")
    rotated = signing.sign(old, "msg_1", 1_700_000_000, b"{}")
    headers["webhook-signature"] = f"{rotated} {headers['webhook-signature']}"
    signing.verify(new, headers, b"{}", now=1_700_000_000)
    signing.verify(old, headers, b"{}", now=1_700_000_000)
