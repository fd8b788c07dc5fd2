"""Shared by the webhook and idempotency tests: tenants, an API over any database, a receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.repositories.tenants import create_tenant, issue_api_key

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)


def issue_key(
    session_factory: sessionmaker[Session], scopes: list[str], name: str = "Lender"
) -> tuple[str, str]:
    """A new tenant and an API key for it: ``(tenant_id, plaintext key)``."""
    with session_factory.begin() as session:
        tenant = create_tenant(session, name)
        _, key = issue_api_key(session, tenant.id, scopes)
        return tenant.id, key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Api:
    client: TestClient
    context: AppContext
    gateway: SandboxSmsGateway

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return self.context.session_factory


@contextmanager
def running_api(settings: Settings, scenario: str = "happy-l2-phone") -> Iterator[Api]:
    """The whole app over ``settings``' database, with a sandbox scenario as authority."""
    chosen = FIXTURE.scenario(scenario)
    provider = SandboxProvider.for_scenario(chosen, today=FIXTURE.today_for(chosen))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    try:
        with TestClient(create_app(settings, context), raise_server_exceptions=False) as client:
            yield Api(client, context, gateway)
    finally:
        context.engine.dispose()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 answering with scripted statuses (then 204)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""


@contextmanager
def loopback_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(statuses=list(statuses or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 204
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
