"""The v1 webhooks API: scopes, tenants kept apart, the delivery log, the app's lifespan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from realname.api.app import create_app
from realname.config import Settings
from realname.webhooks import dispatcher, outbox, signing
from realname.webhooks.sealing import SecretBox
from tests.webhooks.helpers import Api, bearer, issue_key, loopback_receiver, running_api

pytestmark = pytest.mark.storage

URL = "https://lender.example/hooks"
EVENTS = ["verification.status_changed"]
PROBLEM = "application/problem+json"


@pytest.fixture
def settings(engine: Engine, database_url: str, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path, database_url=database_url)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with running_api(settings) as running:
        yield running


def test_register_list_log_and_delete(api: Api) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write", "webhooks:read"])
    created = api.client.post(
        "/v1/webhooks", json={"url": URL, "events": EVENTS}, headers=bearer(key)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "url", "events", "created_at", "secret"}
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["events"]) == (URL, EVENTS)

    listed = api.client.get("/v1/webhooks", headers=bearer(key)).json()
    assert [w["id"] for w in listed["webhooks"]] == [body["id"]]
    assert "secret" not in listed["webhooks"][0]
    assert body["secret"] not in api.client.get("/v1/webhooks", headers=bearer(key)).text

    log = api.client.get(f"/v1/webhooks/{body['id']}/deliveries", headers=bearer(key))
    assert log.status_code == 200
    assert log.json() == {"deliveries": []}

    deleted = api.client.delete(f"/v1/webhooks/{body['id']}", headers=bearer(key))
    assert deleted.status_code == 204
    assert api.client.get("/v1/webhooks", headers=bearer(key)).json() == {"webhooks": []}
    again = api.client.delete(f"/v1/webhooks/{body['id']}", headers=bearer(key))
    assert again.status_code == 404


def test_scopes_are_enforced(api: Api) -> None:
    _, reader = issue_key(api.session_factory, ["webhooks:read"])
    _, writer = issue_key(api.session_factory, ["webhooks:write"])
    _, users_only = issue_key(api.session_factory, ["users:write", "users:read"])
    new = {"url": URL, "events": EVENTS}
    for key in (reader, users_only):
        refused = api.client.post("/v1/webhooks", json=new, headers=bearer(key))
        assert refused.status_code == 403
        assert refused.json()["scope"] == "webhooks:write"
    assert api.client.get("/v1/webhooks", headers=bearer(writer)).status_code == 403
    assert api.client.get("/v1/webhooks", headers=bearer(users_only)).status_code == 403
    created = api.client.post("/v1/webhooks", json=new, headers=bearer(writer))
    assert created.status_code == 201
    endpoint = created.json()["id"]
    assert api.client.delete(f"/v1/webhooks/{endpoint}", headers=bearer(reader)).status_code == 403
    assert api.client.get("/v1/webhooks").status_code == 401


def test_tenants_cannot_see_or_delete_each_others_endpoints(api: Api) -> None:
    _, mine = issue_key(api.session_factory, ["webhooks:write", "webhooks:read"], "A")
    _, theirs = issue_key(api.session_factory, ["webhooks:write", "webhooks:read"], "B")
    created = api.client.post(
        "/v1/webhooks", json={"url": URL, "events": EVENTS}, headers=bearer(mine)
    ).json()
    assert api.client.get("/v1/webhooks", headers=bearer(theirs)).json() == {"webhooks": []}
    for response in (
        api.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=bearer(theirs)),
        api.client.delete(f"/v1/webhooks/{created['id']}", headers=bearer(theirs)),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"url": "http://lender.example/hooks", "events": EVENTS}, 400, "WEBHOOK_URL_REJECTED"),
        ({"url": "https://u:p@lender.example/", "events": EVENTS}, 400, "WEBHOOK_URL_REJECTED"),
        ({"url": URL, "events": ["user.deleted"]}, 422, "VALIDATION_ERROR"),
        ({"url": URL, "events": []}, 422, "VALIDATION_ERROR"),
        ({"url": URL}, 422, "VALIDATION_ERROR"),
    ],
)
def test_invalid_registrations_are_problems(
    api: Api, body: dict[str, object], status: int, code: str
) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write"])
    response = api.client.post("/v1/webhooks", json=body, headers=bearer(key))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert "u:p@" not in response.text


def test_the_delivery_log_shows_every_attempt(api: Api) -> None:
    tenant, key = issue_key(api.session_factory, ["webhooks:write", "webhooks:read"])
    with loopback_receiver(statuses=[500]) as receiver:
        created = api.client.post(
            "/v1/webhooks", json={"url": receiver.url, "events": EVENTS}, headers=bearer(key)
        ).json()
        with api.session_factory.begin() as session:
            (queued,) = outbox.enqueue_status_changed(
                session, tenant, "acct-9", "L1", "L2", ["NAME_MISMATCH"], None
            )
        box = SecretBox.from_keyring(api.context.vault.keyring)
        with dispatcher.new_client() as client:
            dispatcher.dispatch_due(api.session_factory, client, queued.created_at, box=box)
            retry_at = queued.created_at + dispatcher.LEASE  # past any first retry delay
            dispatcher.dispatch_due(api.session_factory, client, retry_at, box=box)
    first = receiver.received[0]
    signing.verify(
        created["secret"], first.headers, first.body, now=int(queued.created_at.timestamp())
    )

    log = api.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=bearer(key)).json()
    (delivery,) = log["deliveries"]
    assert delivery["event_id"] == queued.event_id
    assert delivery["event_type"] == "verification.status_changed"
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 2)
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in delivery["attempts"]] == [
        (1, 500, False),
        (2, 204, True),
    ]
    assert all(a["error"] is None and a["latency_ms"] >= 0 for a in delivery["attempts"])


def test_the_app_can_run_the_dispatcher_in_its_lifespan(settings: Settings) -> None:
    with loopback_receiver() as receiver:
        app = create_app(settings)
        dispatcher.install_dispatcher(app, interval=0.01)
        context = app.state.context
        try:
            with TestClient(app) as client:
                tenant, key = issue_key(context.session_factory, ["webhooks:write"])
                created = client.post(
                    "/v1/webhooks",
                    json={"url": receiver.url, "events": EVENTS},
                    headers=bearer(key),
                )
                assert created.status_code == 201
                with context.session_factory.begin() as session:
                    outbox.enqueue_status_changed(session, tenant, "acct-1", "L2", "L2", [], "L1")

                async def wait() -> None:
                    with anyio.fail_after(10):
                        while not receiver.received:
                            await anyio.sleep(0.01)

                anyio.run(wait)
        finally:
            context.engine.dispose()
    (message,) = receiver.received
    signing.verify(
        created.json()["secret"],
        message.headers,
        message.body,
        now=int(message.headers["webhook-timestamp"]),
    )
