"""Signing secrets at rest: AES-256-GCM bound to the endpoint."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.privacy.keys import Keyring
from realname.webhooks.errors import WebhookSecretUnreadable
from realname.webhooks.sealing import SecretBox

KEYRING = Keyring.generate()


@given(secret=st.text(max_size=100), endpoint_id=st.uuids())
def test_seal_then_open_round_trips(secret: str, endpoint_id: object) -> None:
    box = SecretBox.from_keyring(KEYRING)
    sealed = box.seal(str(endpoint_id), secret)
    assert box.open(str(endpoint_id), sealed) == secret
    if len(secret) >= 8:
        assert secret.encode() not in sealed


def test_a_sealed_secret_opens_only_on_its_endpoint_and_under_its_key() -> None:
    box = SecretBox.from_keyring(KEYRING)
    sealed = box.seal("endpoint-a", "whsec_x")
    with pytest.raises(WebhookSecretUnreadable):
        box.open("endpoint-b", sealed)
    with pytest.raises(WebhookSecretUnreadable):
        SecretBox.from_keyring(Keyring.generate()).open("endpoint-a", sealed)
    with pytest.raises(WebhookSecretUnreadable):
        box.open("endpoint-a", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(WebhookSecretUnreadable, match="malformed"):
        box.open("endpoint-a", b"\x02" + sealed[1:])


def test_the_key_survives_a_master_key_rotation() -> None:
    """Derived from the index key, which rotation keeps, so old secrets stay readable."""
    sealed = SecretBox.from_keyring(KEYRING).seal("endpoint-a", "whsec_x")
    assert SecretBox.from_keyring(KEYRING.rotate()).open("endpoint-a", sealed) == "whsec_x"
    assert repr(SecretBox.from_keyring(KEYRING)) == "SecretBox()"
