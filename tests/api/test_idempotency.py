"""Idempotency-Key on POST: one execution, replayed answers, per-tenant keys, expiry."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from realname.api import idempotency
from realname.api.idempotency import (
    IdempotencyKeyInvalid,
    IdempotencyMiddleware,
    IdempotencyStore,
    ResponseSeal,
)
from realname.config import Settings
from realname.store.models import IdempotencyKey, Tenant, WebhookEndpoint
from tests.webhooks.helpers import Api, bearer, issue_key, running_api

PROBLEM = "application/problem+json"
URL = "https://lender.example/hooks"
NEW_WEBHOOK = {"url": URL, "events": ["verification.status_changed"]}
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


# --- the header value ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"with space"', "with space"),
        ('"quote \\" and backslash \\\\"', 'quote " and backslash \\'),
        (" order-42 ", "order-42"),
        ("k" * 255, "k" * 255),
    ],
)
def test_keys_are_structured_field_strings_or_bare_tokens(raw: str, key: str) -> None:
    assert idempotency.parse_key(raw) == key


@pytest.mark.parametrize(
    "raw",
    ["", "   ", '""', "k" * 256, f'"{"k" * 256}"', "two words", '"unterminated', '"bad \\n"', "键"],
)
def test_malformed_keys_are_refused(raw: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid):
        idempotency.parse_key(raw)


@given(first=st.binary(max_size=64), second=st.binary(max_size=64))
def test_fingerprints_differ_exactly_when_the_requests_do(first: bytes, second: bytes) -> None:
    a = idempotency.fingerprint("POST", "/v1/x", b"", first)
    b = idempotency.fingerprint("POST", "/v1/x", b"", second)
    assert (a == b) == (first == second)
    assert idempotency.fingerprint("POST", "/v1/y", b"", first) != a
    assert idempotency.fingerprint("POST", "/v1/x", b"lang=en", first) != a


def test_stored_answers_open_only_for_their_tenant_and_key() -> None:
    seal = ResponseSeal(bytes(32))
    sealed = seal.seal("tenant-a", "k1", b'{"secret":"whsec_x"}')
    assert b"whsec_x" not in sealed
    assert seal.open("tenant-a", "k1", sealed) == b'{"secret":"whsec_x"}'
    with pytest.raises(InvalidTag):
        seal.open("tenant-b", "k1", sealed)


# --- through the whole app, on every database ------------------------------------------


@pytest.fixture
def api(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(Settings(var_dir=tmp_path, database_url=database_url)) as running:
        yield running


def _count(api: Api, model: type[WebhookEndpoint] | type[IdempotencyKey]) -> int:
    with api.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _headers(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = bearer(key)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


@pytest.mark.storage
def test_a_retry_replays_the_first_answer_and_runs_once(api: Api) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write"])
    headers = _headers(key, '"create-hook-1"')
    first = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=headers)
    second = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content  # the same id, and the same secret
    assert first.headers["content-type"] == second.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert _count(api, WebhookEndpoint) == 1  # the handler ran once

    with api.session_factory() as session:
        (row,) = session.scalars(select(IdempotencyKey)).all()
    assert (row.key, row.status, row.response_status) == ("create-hook-1", "completed", 201)
    assert row.expires_at - row.created_at == timedelta(hours=24)
    # The answer is stored encrypted (it holds the secret shown once), the request not at all.
    assert row.response_body is not None
    assert first.json()["secret"].encode() not in row.response_body
    assert URL not in repr([getattr(row, c.key) for c in IdempotencyKey.__table__.columns])


@pytest.mark.storage
def test_the_same_key_for_a_different_request_is_refused(api: Api) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write", "webhooks:read"])
    headers = _headers(key, "k-1")
    assert api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=headers).status_code == 201
    other = {**NEW_WEBHOOK, "url": "https://lender.example/other"}
    for response in (
        api.client.post("/v1/webhooks", json=other, headers=headers),
        api.client.post("/v1/users/sign-in", json={"phone": "13912345678"}, headers=headers),
    ):
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert problem["request_id"] == response.headers["x-request-id"]
    assert _count(api, WebhookEndpoint) == 1


@pytest.mark.storage
def test_without_a_key_every_request_runs(api: Api) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write"])
    for _ in range(2):
        response = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=bearer(key))
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert _count(api, WebhookEndpoint) == 2
    assert _count(api, IdempotencyKey) == 0


@pytest.mark.storage
def test_keys_belong_to_one_tenant(api: Api) -> None:
    _, mine = issue_key(api.session_factory, ["webhooks:write"], "A")
    _, theirs = issue_key(api.session_factory, ["webhooks:write"], "B")
    first = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=_headers(mine, "shared"))
    other = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=_headers(theirs, "shared"))
    assert first.status_code == other.status_code == 201
    assert first.json()["id"] != other.json()["id"]
    assert "idempotent-replayed" not in other.headers
    # And a different request under the same key is fine for the other tenant.
    changed = {**NEW_WEBHOOK, "url": "https://lender.example/b"}
    theirs_again = api.client.post("/v1/webhooks", json=changed, headers=_headers(theirs, "other"))
    assert theirs_again.status_code == 201
    assert _count(api, WebhookEndpoint) == 3


@pytest.mark.storage
def test_keys_expire_after_24_hours(api: Api) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write"])
    headers = _headers(key, "daily")
    first = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=headers)
    with api.session_factory.begin() as session:
        row = session.scalars(select(IdempotencyKey)).one()
        session.execute(
            update(IdempotencyKey).values(
                created_at=row.created_at - timedelta(hours=24, seconds=1),
                expires_at=row.expires_at - timedelta(hours=24, seconds=1),
            )
        )
    changed = {**NEW_WEBHOOK, "url": "https://lender.example/next-day"}
    again = api.client.post("/v1/webhooks", json=changed, headers=headers)
    assert again.status_code == 201  # not IDEMPOTENCY_KEY_REUSED: the old use expired
    assert again.json()["id"] != first.json()["id"]
    assert _count(api, WebhookEndpoint) == 2
    replay = api.client.post("/v1/webhooks", json=changed, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == again.json()["id"]


@pytest.mark.storage
@pytest.mark.parametrize("raw", ["", "k" * 256, "two words", '"open'])
def test_a_malformed_key_is_a_400_problem(api: Api, raw: str) -> None:
    _, key = issue_key(api.session_factory, ["webhooks:write"])
    response = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=_headers(key, raw))
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert _count(api, WebhookEndpoint) == 0


@pytest.mark.storage
def test_refusals_that_may_pass_later_free_the_key_others_are_kept(api: Api) -> None:
    _, reader = issue_key(api.session_factory, ["webhooks:read"])
    _, writer = issue_key(api.session_factory, ["webhooks:write"])
    forbidden = api.client.post("/v1/webhooks", json=NEW_WEBHOOK, headers=_headers(reader, "a"))
    assert forbidden.status_code == 403
    unauthenticated = api.client.post(
        "/v1/webhooks", json=NEW_WEBHOOK, headers={"Idempotency-Key": "a"}
    )
    assert unauthenticated.status_code == 401
    assert _count(api, IdempotencyKey) == 0
    bad = {**NEW_WEBHOOK, "url": "http://lender.example/"}
    first = api.client.post("/v1/webhooks", json=bad, headers=_headers(writer, "b"))
    second = api.client.post("/v1/webhooks", json=bad, headers=_headers(writer, "b"))
    assert first.status_code == second.status_code == 400
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == PROBLEM
    assert first.json() == second.json()


@pytest.mark.storage
def test_a_retried_sign_in_sends_one_code(api: Api) -> None:
    _, key = issue_key(api.session_factory, ["users:write"])
    phone = {"phone": "13912345678"}
    first = api.client.post("/v1/users/sign-in", json=phone, headers=_headers(key, "sms-1"))
    retry = api.client.post("/v1/users/sign-in", json=phone, headers=_headers(key, "sms-1"))
    assert first.status_code == retry.status_code == 200, first.text
    assert first.json() == retry.json()
    assert len(api.gateway.messages_to("13912345678")) == 1
    # Without the key the retry is a new request (refused or not, the handler runs again).
    plain = api.client.post("/v1/users/sign-in", json=phone, headers=bearer(key))
    assert "idempotent-replayed" not in plain.headers
    assert plain.json() != first.json()


def test_the_openapi_document_describes_the_header(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    parameter = document["components"]["parameters"]["IdempotencyKey"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "Idempotency-Key",
        "header",
        False,
    )
    assert "IDEMPOTENCY_KEY_REUSED" in parameter["description"]
    reference = {"$ref": "#/components/parameters/IdempotencyKey"}
    posts = [item["post"] for item in document["paths"].values() if "post" in item]
    assert len(posts) >= 4
    assert all(reference in operation["parameters"] for operation in posts)
    gets = [item["get"] for item in document["paths"].values() if "get" in item]
    assert all(reference not in operation.get("parameters", []) for operation in gets)
    assert client.get("/openapi.json").json() == document  # documented once, not twice


# --- a bare app: concurrency, failures, stale locks -------------------------------------


class Handler:
    """A POST handler that counts its runs and can be held or made to fail."""

    def __init__(self) -> None:
        self.runs = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_next = False

    def __call__(self) -> dict[str, int]:
        self.runs += 1
        self.started.set()
        assert self.release.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("boom")
        return {"run": self.runs}


@pytest.fixture
def bare(
    session_factory: sessionmaker[Session],
) -> Iterator[tuple[TestClient, Handler, dict[str, str], list[datetime]]]:
    handler = Handler()
    clock = [T0]
    app = FastAPI()
    app.post("/do")(handler.__call__)
    store = IdempotencyStore(session_factory, ResponseSeal(bytes(32)))
    app.add_middleware(IdempotencyMiddleware, store=store, clock=lambda: clock[0])
    _, key = issue_key(session_factory, [])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, handler, _headers(key, "op-1"), clock


@pytest.mark.storage
def test_a_retry_while_the_first_is_running_is_409(
    bare: tuple[TestClient, Handler, dict[str, str], list[datetime]],
) -> None:
    client, handler, headers, _ = bare
    handler.release.clear()
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(client.post, "/do", json={"a": 1}, headers=headers)
        assert handler.started.wait(10)
        concurrent = client.post("/do", json={"a": 1}, headers=headers)
        handler.release.set()
        assert first.result(10).json() == {"run": 1}
    assert concurrent.status_code == 409
    assert concurrent.headers["content-type"] == PROBLEM
    assert concurrent.json()["code"] == "IDEMPOTENCY_IN_PROGRESS"
    replay = client.post("/do", json={"a": 1}, headers=headers)
    assert (replay.json(), replay.headers["idempotent-replayed"]) == ({"run": 1}, "true")
    assert handler.runs == 1


@pytest.mark.storage
def test_a_server_error_frees_the_key(
    bare: tuple[TestClient, Handler, dict[str, str], list[datetime]],
) -> None:
    client, handler, headers, _ = bare
    handler.fail_next = True
    failed = client.post("/do", json={}, headers=headers)
    assert failed.status_code == 500
    retried = client.post("/do", json={}, headers=headers)
    assert (retried.status_code, retried.json()) == (200, {"run": 2})
    assert "idempotent-replayed" not in retried.headers


@pytest.mark.storage
def test_a_stale_lock_is_taken_over_and_old_keys_are_pruned(
    bare: tuple[TestClient, Handler, dict[str, str], list[datetime]],
    session_factory: sessionmaker[Session],
) -> None:
    client, _, headers, clock = bare
    tenant_id = _tenant_of(session_factory)
    # A first request whose process died mid-handler: claimed, never completed.
    with session_factory.begin() as session:
        session.add(
            IdempotencyKey(
                tenant_id=tenant_id,
                key="op-1",
                fingerprint=idempotency.fingerprint("POST", "/do", b"", b"{}"),
                status="in_progress",
                created_at=T0,
                locked_until=T0 + idempotency.LOCK_TIMEOUT,
                expires_at=T0 + idempotency.KEY_TTL,
            )
        )
    assert client.post("/do", json={}, headers=headers).status_code == 409
    clock[0] = T0 + idempotency.LOCK_TIMEOUT
    taken_over = client.post("/do", json={}, headers=headers)
    assert (taken_over.status_code, taken_over.json()) == (200, {"run": 1})
    with session_factory.begin() as session:
        assert idempotency.prune_expired(session, T0 + timedelta(hours=23)) == 0
        assert idempotency.prune_expired(session, T0 + idempotency.KEY_TTL) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


@pytest.mark.storage
def test_expiry_follows_the_injected_clock(
    bare: tuple[TestClient, Handler, dict[str, str], list[datetime]],
) -> None:
    client, handler, headers, clock = bare
    assert client.post("/do", json={}, headers=headers).json() == {"run": 1}
    clock[0] = T0 + timedelta(hours=23, minutes=59)
    assert client.post("/do", json={}, headers=headers).json() == {"run": 1}
    clock[0] = T0 + idempotency.KEY_TTL
    assert client.post("/do", json={"changed": True}, headers=headers).json() == {"run": 2}
    assert handler.runs == 2


def _tenant_of(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        tenant_id = session.scalars(select(Tenant.id)).one()
    assert re.fullmatch(r"[0-9a-f-]{36}", tenant_id)
    return tenant_id
