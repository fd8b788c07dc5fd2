"""The verification route's fast path answers exactly as FastAPI's own handler does.

Every request below is sent twice, to two apps on identical sandbox worlds: once with
the fast path of ``POST /v1/users/{id}/verifications`` on, once with it off (FastAPI's
handler for everything). The answers must be the same, up to the values that differ
between any two runs (ids, times, request ids).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from realname.api import fast_path
from realname.api.app import create_app
from realname.api.context import AppContext
from realname.api.routers import users as users_router
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.db import upgrade
from tests.api.test_app import _issue_key

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
NAME, ID_NUMBER, PHONE = "王小明", "110105199003071239", "13912345678"
GOOD = {"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}

#: Values that differ between two runs of the same request.
_VOLATILE = {"user_id", "verified_at", "request_id", "challenge_id", "expires_at", "resend_at"}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Answer = tuple[int, str, Any]
Script = Callable[["Borrower"], list[Answer]]


class Borrower:
    """One signed-in borrower of a fresh app, with the write and read-only keys."""

    def __init__(self, client: TestClient, gateway: SandboxSmsGateway, keys: dict[str, str]):
        self.client = client
        self.write = {"Authorization": f"Bearer {keys['write']}"}
        self.read_only = {"Authorization": f"Bearer {keys['read']}"}
        started = client.post("/v1/users/sign-in", json={"phone": PHONE}, headers=self.write)
        code = re.search(r"\d{6}", gateway.messages_to(PHONE)[-1].text)
        assert code is not None
        done = client.post(
            "/v1/users/sign-in/verify",
            json={"phone": PHONE, "challenge_id": started.json()["challenge_id"], "code": code[0]},
            headers=self.write,
        )
        self.user_id = done.json()["user_id"]
        consented = client.post(
            f"/v1/users/{self.user_id}/consents",
            json={"kinds": ["id", "phone", "bank_card"]},
            headers=self.write,
        )
        assert consented.status_code == 200, consented.text

    def submit(
        self, *, query: str = "", headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Answer:
        response = self.client.post(
            f"/v1/users/{self.user_id}/verifications{query}",
            headers=self.write if headers is None else headers,
            **kwargs,
        )
        return response.status_code, response.headers["content-type"], _stable(response.json())


def _stable(value: Any) -> Any:
    """``value`` with what differs between runs replaced by a placeholder."""
    if isinstance(value, dict):
        return {k: "<varies>" if k in _VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    if isinstance(value, str):
        return _UUID.sub("<id>", value)
    return value


@pytest.fixture
def run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, Script], tuple[list[Answer], list[Answer], int]]]:
    """Run a script on the scenario with the fast path on, then off; both answer
    lists, and how many answers the fast path itself gave."""
    [route] = [
        r
        for r in users_router.router.routes
        if isinstance(r, APIRoute) and r.path.endswith("/verifications")
    ]
    fast_answers = 0
    counted = fast_path.json_response

    def counting(model: Any) -> Any:
        nonlocal fast_answers
        fast_answers += 1
        return counted(model)

    monkeypatch.setattr(users_router, "json_response", counting)
    engines = []

    def run(scenario_id: str, script: Script) -> tuple[list[Answer], list[Answer], int]:
        nonlocal fast_answers
        answers = []
        counts = []
        for enabled in (True, False):
            monkeypatch.setattr(route, "fast_path_enabled", enabled)
            fast_answers = 0
            var = tmp_path / f"{scenario_id}-{enabled}"
            var.mkdir()
            settings = Settings(var_dir=var, database_url=f"sqlite:///{var / 'api.db'}")
            upgrade(settings.resolved_database_url)
            scenario = FIXTURE.scenario(scenario_id)
            provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
            gateway = SandboxSmsGateway(provider.store, provider.world_id)
            context = AppContext.from_settings(settings, provider=provider, sms=gateway)
            engines.append(context.engine)
            keys = {
                "write": _issue_key(settings, ["users:write", "users:read"]),
                "read": _issue_key(settings, ["users:read"]),
            }
            app = create_app(settings, context)
            with TestClient(app, raise_server_exceptions=False) as client:
                answers.append(script(Borrower(client, gateway, keys)))
            counts.append(fast_answers)
        assert counts[1] == 0  # switched off, the fast path answers nothing
        return answers[0], answers[1], counts[0]

    yield run
    for engine in engines:
        engine.dispose()


def test_a_verification_that_reaches_l2_is_answered_by_the_fast_path(run_twice: Any) -> None:
    fast, generic, answered_fast = run_twice(
        "happy-l2-phone", lambda borrower: [borrower.submit(json=GOOD)]
    )
    assert fast == generic
    [(status, content_type, body)] = fast
    assert (status, content_type, body["level"], body["verified"]) == (
        200,
        "application/json",
        "L2",
        True,
    )
    assert answered_fast == 1


def test_causes_and_remedies_in_english_are_the_same_on_both_paths(run_twice: Any) -> None:
    fast, generic, answered_fast = run_twice(
        "phone-of-a-parent",
        lambda borrower: [
            borrower.submit(
                json=GOOD, query="?lang=en", headers={**borrower.write, "X-Device-Id": "d-1"}
            )
        ],
    )
    assert fast == generic
    [(status, _, body)] = fast
    assert status == 200
    assert [cause["code"] for cause in body["causes"]] == ["PHONE_OWNED_BY_OTHER"]
    assert "someone else" in body["causes"][0]["message"]
    assert answered_fast == 1


def _refusals(borrower: Borrower) -> list[Answer]:
    long_device = {**borrower.write, "X-Device-Id": "d" * 129}
    return [
        borrower.submit(json=GOOD, headers={}),  # no key
        borrower.submit(json=GOOD, headers=borrower.read_only),  # no users:write
        borrower.submit(json=GOOD, query="?lang=fr"),
        borrower.submit(json=GOOD, query="?lang=fr", headers={}),  # the key is checked first
        borrower.submit(json=GOOD, headers=long_device),
        borrower.submit(json={**GOOD, "name": "王" * 65}),
        borrower.submit(json={"name": NAME, "phone": PHONE}),  # no ID number
        borrower.submit(json={**GOOD, "nickname": "x"}),  # unknown field
        borrower.submit(json=[GOOD]),
        borrower.submit(json={**GOOD, "product": "no-such-product"}),  # the endpoint's 400
        borrower.submit(
            content=b'{"name": "x",', headers={**borrower.write, "Content-Type": "application/json"}
        ),
        borrower.submit(
            content=b"", headers={**borrower.write, "Content-Type": "application/json"}
        ),
        borrower.submit(
            content=json.dumps(GOOD).encode(),
            headers={**borrower.write, "Content-Type": "text/plain"},
        ),
        borrower.submit(
            content=json.dumps(GOOD).encode(),
            headers={**borrower.write, "Content-Type": "application/problem+json"},
        ),
    ]


def test_every_refusal_has_the_shape_fastapi_gives_it(run_twice: Any) -> None:
    fast, generic, answered_fast = run_twice("happy-l2-phone", _refusals)
    assert fast == generic
    codes = [(status, body["code"]) for status, _, body in fast[:-1]]
    assert codes == [
        (401, "UNAUTHORIZED"),
        (403, "FORBIDDEN"),
        (422, "VALIDATION_ERROR"),
        (401, "UNAUTHORIZED"),
        *[(422, "VALIDATION_ERROR")] * 5,
        (400, "BAD_REQUEST"),
        (400, "MALFORMED_JSON"),
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
    ]
    fields = [body["errors"][0]["field"] for _, _, body in fast if "errors" in body]
    assert fields == [
        "query.lang",
        "header.x-device-id",
        "name",
        "id_number",
        "nickname",
        "body",
        "body",
        "body",
    ]
    # Only the last, a good request sent as application/problem+json, reached L2.
    assert fast[-1][0] == 200
    assert fast[-1][2]["level"] == "L2"
    assert answered_fast == 1
