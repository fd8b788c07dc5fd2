"""bench.asgi_client: the lean in-process client step 2 of bench_api drives the app with."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bench.asgi_client import AsgiClient
from fastapi import FastAPI, Request
from pydantic import BaseModel


class Body(BaseModel):
    name: str
    count: int


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/things/{thing_id}")
    async def create(thing_id: str, body: Body, request: Request) -> dict[str, Any]:
        return {
            "thing_id": thing_id,
            "name": body.name,
            "count": body.count,
            "auth": request.headers.get("authorization"),
            "host": request.headers.get("host"),
            "type": request.headers.get("content-type"),
            "query": dict(request.query_params),
        }

    @app.post("/boom")
    async def boom() -> None:
        raise LookupError("the app's own failure")

    return app


def test_a_post_reaches_the_app_with_its_body_headers_and_query_and_returns_its_answer() -> None:
    client = AsgiClient(_app(), {"Authorization": "Bearer k"})
    answer = asyncio.run(client.post("/things/7?view=full", json={"name": "张三", "count": 2}))
    assert answer.status_code == 200
    assert answer.json() == {
        "thing_id": "7",
        "name": "张三",
        "count": 2,
        "auth": "Bearer k",
        "host": "realname.bench",
        "type": "application/json",
        "query": {"view": "full"},
    }


def test_the_apps_refusal_is_returned_as_it_was_sent() -> None:
    answer = asyncio.run(AsgiClient(_app()).post("/things/7", json={"name": "x"}))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "count"]


def test_the_apps_own_exception_reaches_the_caller() -> None:
    with pytest.raises(LookupError, match="own failure"):
        asyncio.run(AsgiClient(_app()).post("/boom", json={}))


def test_an_app_listening_after_the_body_is_told_of_the_disconnect_once_answered() -> None:
    """An app that watches for the client going away (as streaming responses do) is not
    told before its answer is sent, and is told after it: no hang, no early end."""
    seen: list[tuple[str, bool]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        first = await receive()
        assert first == {"type": "http.request", "body": b'{"a":1}', "more_body": False}
        answered = asyncio.Event()

        async def watch() -> None:
            message = await receive()
            seen.append((message["type"], answered.is_set()))

        watcher = asyncio.ensure_future(watch())
        await asyncio.sleep(0.01)
        assert not watcher.done()  # nothing arrives while the answer is being made
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": True})
        answered.set()
        await send({"type": "http.response.body", "body": b"!", "more_body": False})
        await watcher

    answer = asyncio.run(AsgiClient(app).post("/", json={"a": 1}))
    assert (answer.status_code, answer.content) == (201, b"ok!")
    assert seen == [("http.disconnect", True)]


def test_an_app_that_answers_nothing_is_an_error_not_an_empty_success() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    with pytest.raises(RuntimeError, match="without a response"):
        asyncio.run(AsgiClient(app).post("/", json={}))
