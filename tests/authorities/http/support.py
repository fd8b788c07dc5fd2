"""Shared pieces of the HTTP-sandbox tests: credentials, a running server, signed
requests made without the SDK, and adapters pointed at the server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from realname.authorities.sandbox import load_fixture_file
from realname.authorities.sandbox.fixtures import FixtureFile
from realname.authorities.sandbox.http import SandboxWorlds, create_app, serve_in_thread
from realname.authorities.sandbox.http.tc3 import authorization_header
from realname.authorities.tencentcloud import TencentCloudProvider, TencentCloudSettings

PUBLIC = Path(__file__).parent.parent / "data" / "public.yaml"
SECRET_ID = "AKIDsandboxTEST0000000000000000000000"
SECRET_KEY = "sandbox-secret-key-for-tests"
TODAY = date(2026, 12, 1)
#: How long a timeout fault holds a response in these tests (clients give up sooner).
HANG_SECONDS = 5.0


@dataclass
class RunningServer:
    address: str  # host:port
    worlds: SandboxWorlds
    fixture: FixtureFile
    http: httpx.Client

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def adapter(
        self,
        world: str | None = None,
        *,
        timeout: float = 3.0,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        today: date = TODAY,
    ) -> TencentCloudProvider:
        settings = TencentCloudSettings(
            secret_id=secret_id,
            secret_key=SecretStr(secret_key),
            endpoint=self.url,
            timeout_seconds=timeout,
        )
        headers = {"X-Sandbox-World": world} if world is not None else None
        return TencentCloudProvider(settings, headers=headers, today=lambda: today)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = self.http.request(
            method,
            f"{self.url}/_sandbox/worlds{path}",
            json=body,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        response.raise_for_status()
        return response

    def post(
        self,
        action: str | None,
        params: Mapping[str, Any] | bytes,
        *,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        timestamp: int | None = None,
        version: str | None = "2018-03-01",
        service: str = "faceid",
        extra: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> dict[str, Any]:
        """A request signed the way Tencent documents it, independent of the SDK."""
        body = params if isinstance(params, bytes) else json.dumps(params).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = {"content-type": "application/json", "host": self.address}
        if action is not None:
            headers["x-tc-action"] = action
        if version is not None:
            headers["x-tc-version"] = version
        headers["x-tc-timestamp"] = str(stamp)
        headers["x-tc-region"] = "ap-guangzhou"
        if sign:
            headers["authorization"] = authorization_header(
                secret_id=secret_id,
                secret_key=secret_key,
                service=service,
                timestamp=stamp,
                headers=headers,
                payload=body,
            )
        headers.update(extra or {})
        response = self.http.post(self.url, content=body, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        result: dict[str, Any] = response.json()["Response"]
        assert result["RequestId"]
        return result


@contextmanager
def running_server(path: Path = PUBLIC) -> Iterator[RunningServer]:
    fixture = load_fixture_file(path)
    worlds = SandboxWorlds.from_fixture(fixture)
    app = create_app(worlds, secrets={SECRET_ID: SECRET_KEY}, hang_seconds=HANG_SECONDS)
    with serve_in_thread(app) as address, httpx.Client() as http:
        yield RunningServer(address, worlds, fixture, http)
