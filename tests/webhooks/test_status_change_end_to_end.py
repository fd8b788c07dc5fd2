"""A verification that changes a user's status reaches the tenant's webhook, signed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from realname.config import Settings
from realname.webhooks.dispatcher import dispatch_due
from realname.webhooks.sealing import SecretBox
from realname.webhooks.signing import verify
from tests.webhooks.helpers import bearer, issue_key, loopback_receiver, running_api

pytestmark = pytest.mark.storage


@pytest.fixture
def settings(engine: Engine, database_url: str, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, database_url=database_url)


SUBMISSION = {"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"}


def test_status_changes_are_delivered_and_unchanged_results_are_not(settings: Settings) -> None:
    with running_api(settings) as api, loopback_receiver() as receiver:
        _, key = issue_key(api.session_factory, ["*"])
        client = api.client
        hook = client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["verification.status_changed"]},
            headers=bearer(key),
        ).json()
        started = client.post(
            "/v1/users/sign-in", json={"phone": "13912345678"}, headers=bearer(key)
        )
        code = re.search(r"\d{6}", api.gateway.messages_to("13912345678")[-1].text)
        assert code is not None
        user = client.post(
            "/v1/users/sign-in/verify",
            json={
                "phone": "13912345678",
                "challenge_id": started.json()["challenge_id"],
                "code": code[0],
            },
            headers=bearer(key),
        ).json()["user_id"]
        client.post(
            f"/v1/users/{user}/consents", json={"kinds": ["id", "phone"]}, headers=bearer(key)
        )
        for _ in range(2):  # the second, identical result is not a change
            client.post(f"/v1/users/{user}/verifications", json=SUBMISSION, headers=bearer(key))

        box = SecretBox.from_keyring(api.context.vault.keyring)
        with httpx.Client(timeout=5) as http:
            report = dispatch_due(api.session_factory, http, datetime.now(UTC), box=box)
    assert report is not None
    assert len(receiver.received) == 1
    delivery = receiver.received[0]
    verify(hook["secret"], delivery.headers, delivery.body, now=int(datetime.now(UTC).timestamp()))
    event = json.loads(delivery.body)
    assert event["type"] == "verification.status_changed"
    assert event["data"]["user_id"] == user
    assert (event["data"]["level"], event["data"]["previous_level"]) == ("L2", None)
    assert "王小明" not in delivery.body.decode()
