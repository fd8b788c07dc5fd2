"""The HTTP skeleton: probes, docs, the problem+json error model, API keys, request ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from realname.api.app import create_app
from realname.config import Settings
from realname.store.db import make_engine, make_session_factory
from realname.store.models import ApiKey
from realname.store.repositories.tenants import create_tenant, issue_api_key, revoke_api_key

PROBLEM = "application/problem+json"


def _issue_key(settings: Settings, scopes: list[str]) -> str:
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            tenant = create_tenant(session, "Test lender")
            _, key = issue_api_key(session, tenant.id, scopes)
            session.commit()
    finally:
        engine.dispose()
    return key


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_reports_unmigrated_database_as_problem(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "NOT_READY"


def test_openapi_document_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/readyz", "/v1/tenant"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "NOT_FOUND"
    assert body["status"] == 404
    assert body["request_id"] == response.headers["x-request-id"]


def test_wrong_method_is_a_problem(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_missing_and_wrong_api_keys_are_rejected(client: TestClient, settings: Settings) -> None:
    missing = client.get("/v1/tenant")
    assert missing.status_code == 401
    assert missing.json()["code"] == "UNAUTHORIZED"
    key = _issue_key(settings, ["*"])
    tampered = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    wrong = client.get("/v1/tenant", headers={"Authorization": f"Bearer {tampered}"})
    assert wrong.status_code == 401
    assert client.get("/v1/tenant", headers={"Authorization": "Basic abc"}).status_code == 401


def test_valid_api_key_identifies_tenant(client: TestClient, settings: Settings) -> None:
    key = _issue_key(settings, ["identity:validate"])
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        response = client.get("/v1/tenant", headers=headers)
        assert response.status_code == 200
        assert response.json()["scopes"] == ["identity:validate"]


def test_a_key_records_its_use_and_is_refused_once_revoked(
    client: TestClient, settings: Settings
) -> None:
    key = _issue_key(settings, ["*"])
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/tenant", headers=headers).status_code == 200
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine).begin() as session:
            (row,) = session.scalars(select(ApiKey)).all()
            assert row.last_used_at is not None
            revoke_api_key(session, row.id)
    finally:
        engine.dispose()
    refused = client.get("/v1/tenant", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "UNAUTHORIZED"


def test_caller_request_id_is_echoed_only_when_safe(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
        "x-request-id"
    ] == "abc-123"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "13912345678 \n forged"})
    assert "13912345678" not in unsafe.headers["x-request-id"]
    assert len(unsafe.headers["x-request-id"]) == 32


def test_unexpected_exception_is_a_500_problem_without_internals(settings: Settings) -> None:
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("secret internals 11010519491231002X")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert "secret" not in response.text
    assert "11010519491231002X" not in response.text


def test_the_service_uses_the_configured_authorities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realname.api.context import AppContext
    from realname.authorities.composite import CompositeProvider
    from realname.authorities.protocol import Check
    from realname.authorities.resilience import ResilientProvider
    from realname.authorities.sandbox import SandboxProvider
    from realname.authorities.tencentcloud import TencentCloudProvider

    monkeypatch.setenv("REALNAME_PROVIDER", "tencentcloud")
    monkeypatch.setenv("REALNAME_TENCENT_SECRET_ID", "AKIDexample")
    monkeypatch.setenv("REALNAME_TENCENT_SECRET_KEY", "example")
    monkeypatch.setenv("REALNAME_TENCENT_ENDPOINT", "http://127.0.0.1:9")
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    context = AppContext.from_settings(settings)
    try:
        assert isinstance(context.provider, ResilientProvider)
        composite = context.provider.inner
        assert isinstance(composite, CompositeProvider)
        assert isinstance(composite.provider_for(Check.ID_TWO_ELEMENT), TencentCloudProvider)
        # Tencent offers no SIM-swap check: the sandbox answers it.
        assert isinstance(composite.provider_for(Check.SIM_SWAP), SandboxProvider)
    finally:
        context.engine.dispose()


def test_every_request_body_in_the_openapi_document_has_an_example(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            if not schemas[ref].get("examples"):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
