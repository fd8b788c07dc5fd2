"""The sandbox over HTTP, speaking Tencent Cloud API 3.0 for the FaceID element checks.

``realname sandbox serve`` runs it; the real adapter
(:class:`realname.authorities.tencentcloud.TencentCloudProvider`) pointed at it with
``REALNAME_TENCENT_ENDPOINT=http://127.0.0.1:PORT`` is then tested end to end::

    worlds = SandboxWorlds.from_fixture(load_fixture_file("scenarios.yaml"))
    app = create_app(worlds, secrets={"AKIDsandbox": "sandbox-secret-key"})
    with serve_in_thread(app) as address:
        ...

- :mod:`.tc3` — the TC3-HMAC-SHA256 signature (pure functions);
- :mod:`.actions` — the served actions, their parameters and response fields;
- :mod:`.worlds` — the worlds a server answers from, picked per request by the
  sandbox-only header ``X-Sandbox-World``;
- :mod:`.app` — the Starlette app and its ``/_sandbox/`` control API;
- :mod:`.runner` — uvicorn in a background thread.
"""

from __future__ import annotations

from realname.authorities.sandbox.http.actions import ACTIONS, ENCRYPTED_FIELDS
from realname.authorities.sandbox.http.app import SERVED_CHECKS, SERVICE, VERSION, create_app
from realname.authorities.sandbox.http.runner import serve_in_thread
from realname.authorities.sandbox.http.tc3 import Tc3Error
from realname.authorities.sandbox.http.worlds import WORLD_HEADER, SandboxWorlds, World

__all__ = [
    "ACTIONS",
    "ENCRYPTED_FIELDS",
    "SERVED_CHECKS",
    "SERVICE",
    "VERSION",
    "WORLD_HEADER",
    "SandboxWorlds",
    "Tc3Error",
    "World",
    "create_app",
    "serve_in_thread",
]
