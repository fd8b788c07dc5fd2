"""The ASGI app: the sandbox behind the Tencent Cloud API 3.0 protocol (FaceID 2018-03-01).

``POST /`` takes what a Tencent SDK sends — a JSON body, ``X-TC-Action``,
``X-TC-Version: 2018-03-01``, ``X-TC-Timestamp``, ``X-TC-Region`` and a
TC3-HMAC-SHA256 ``Authorization`` — verifies the signature against the sandbox's
credentials (:mod:`.tc3`), runs the action (:mod:`.actions`) and answers in the API
3.0 envelope, always with HTTP 200 as Tencent does::

    {"Response": {"Result": "0", "Description": "…", …, "RequestId": "…"}}
    {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "…"},
                  "RequestId": "…"}}

When the sandbox provider gives no answer the server answers as the real service
does: the action's documented result code for busy, service exception and daily
limit (``IdCardVerification`` "-6", "-4", "-7" …), ``RequestLimitExceeded`` when a
QPS quota trips, ``InternalError`` for a server error of an action that has no
result code for it — and for a timeout it does not answer at all: it holds the
response for ``hang_seconds`` (or until the client goes away), past any sane client
timeout.

Only the six element checks are served; carrier lookup, re-issued numbers and SIM
swap are not Tencent APIs, and face checks need a face engine the server does not
have yet. ``GET`` requests, ``multipart/form-data`` bodies and encrypted parameters
are not supported.

Under ``/_sandbox/worlds`` a small control API (``Authorization: Bearer <SecretKey>``)
works on one world at a time:

- ``PUT|DELETE /{world}/faults/{check}`` (``{"kind": "busy"}``), ``DELETE /{world}/faults``;
- ``PUT|DELETE /{world}/quotas/{check}`` (``{"qps": 2}``; DELETE restores the default);
- ``PUT|DELETE /{world}/results/{action}`` (``{"Result": "-8"}`` or
  ``{"Error": {"Code": "InternalError", "Message": "…"}}``): answer that instead;
- ``POST /{world}/reset``: the world as it started.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import Check
from realname.authorities.sandbox.config import FaultKind
from realname.authorities.sandbox.http import tc3
from realname.authorities.sandbox.http.actions import ACTIONS, Action, ApiError
from realname.authorities.sandbox.http.worlds import WORLD_HEADER, SandboxWorlds, World

SERVICE = "faceid"
VERSION = "2018-03-01"
#: Tencent's limit on a request body.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: A Result code of the element checks ("0", "-4" …); anything else is an Error code.
_RESULT_CODE = re.compile(r"-?[0-9]+")


def _envelope(fields: Mapping[str, Any], request_id: str) -> JSONResponse:
    return JSONResponse({"Response": {**fields, "RequestId": request_id}})


def _error(code: str, message: str, request_id: str) -> JSONResponse:
    return _envelope({"Error": {"Code": code, "Message": message}}, request_id)


def _new_request_id() -> str:
    return str(uuid.uuid4())


async def _hang(request: Request, seconds: float) -> None:
    """Hold the response for ``seconds`` or until the client disconnects."""
    deadline = anyio.current_time() + seconds
    while anyio.current_time() < deadline:
        if await request.is_disconnected():
            return
        await anyio.sleep(0.05)


class _Api:
    def __init__(
        self,
        worlds: SandboxWorlds,
        secrets: Mapping[str, str],
        hang_seconds: float,
        now: Callable[[], float],
    ) -> None:
        self.worlds = worlds
        self.secrets = dict(secrets)
        self.hang_seconds = hang_seconds
        self.now = now

    # ------------------------------------------------------------------ Tencent API

    async def handle(self, request: Request) -> Response:
        request_id = _new_request_id()
        body = await request.body()
        try:
            action, world, params = self._admit(request, body)
        except (ApiError, tc3.Tc3Error) as error:
            return _error(error.code, error.message, request_id)

        forced = world.forced.get(action.name)
        if forced is not None:
            return _envelope(self._forced_fields(action, forced), request_id)
        try:
            fields, answered_id = await action.handler(world.provider, params)
        except ApiError as error:
            return _error(error.code, error.message, request_id)
        except ProviderUnavailable as failure:
            return await self._unavailable(request, action, failure, request_id)
        return _envelope(fields, answered_id or request_id)

    def _admit(self, request: Request, body: bytes) -> tuple[Action, World, dict[str, Any]]:
        """Authenticate and parse; raises the API 3.0 error a gateway would answer."""
        if len(body) > MAX_BODY_BYTES:
            raise ApiError("RequestSizeLimitExceeded", "The request body exceeds 10 MB.")
        headers = {name.lower(): value for name, value in request.headers.items()}
        tc3.verify(
            authorization=headers.get("authorization"),
            timestamp=headers.get("x-tc-timestamp"),
            headers=headers,
            payload=body,
            secrets=self.secrets,
            service=SERVICE,
            now=self.now(),
        )
        version = headers.get("x-tc-version")
        if version is None:
            raise ApiError("MissingParameter", "The request is missing X-TC-Version.")
        if version != VERSION:
            raise ApiError("NoSuchVersion", f"The API version {version!r} does not exist.")
        name = headers.get("x-tc-action")
        if name is None:
            raise ApiError("MissingParameter", "The request is missing X-TC-Action.")
        action = ACTIONS.get(name)
        if action is None:
            raise ApiError("InvalidAction", f"The action {name!r} does not exist.")
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(
                "InvalidRequest", "The sandbox accepts only application/json POST requests."
            )
        try:
            params = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError("InvalidParameter", "The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise ApiError("InvalidParameter", "The request body must be a JSON object.")
        try:
            world = self.worlds.get(headers.get(WORLD_HEADER.lower()))
        except KeyError:
            raise ApiError(
                "InvalidParameterValue", f"{WORLD_HEADER} names no world of this sandbox."
            ) from None
        action.read(params)
        return action, world, params

    @staticmethod
    def _forced_fields(action: Action, forced: Mapping[str, Any]) -> dict[str, Any]:
        if "Error" in forced:
            return {"Error": dict(forced["Error"])}
        details = {key: value for key, value in forced.items() if key != "Result"}
        description = details.pop("Description", None)
        return action.result(str(forced["Result"]), description, **details)

    async def _unavailable(
        self, request: Request, action: Action, failure: ProviderUnavailable, request_id: str
    ) -> Response:
        if failure.reason is UnavailableReason.TIMEOUT:
            await _hang(request, self.hang_seconds)
            return _error("InternalError", "The request timed out.", request_id)
        raw = failure.raw_code or "InternalError"
        answered_id = failure.request_id or request_id
        message = action.spec.meaning(raw).message
        if _RESULT_CODE.fullmatch(raw):
            return _envelope(action.result(raw, message), answered_id)
        return _error(raw, message, answered_id)

    # ----------------------------------------------------------------- control API

    def _authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.secrets.values()

    async def control(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"error": "a Bearer sandbox secret key is required"}, 401)
        params = request.path_params
        try:
            world = self.worlds.get(params["world"]) if "world" in params else None
        except KeyError:
            return JSONResponse({"error": "no such world"}, 404)
        try:
            payload = await request.json() if request.method == "PUT" else {}
        except json.JSONDecodeError:
            return JSONResponse({"error": "the body is not JSON"}, 400)
        try:
            result = self._control(request.url.path, request.method, world, params, payload)
        except (KeyError, ValueError, TypeError) as error:
            return JSONResponse({"error": f"bad control request ({type(error).__name__})"}, 400)
        return JSONResponse(result)

    def _control(
        self,
        path: str,
        method: str,
        world: World | None,
        params: Mapping[str, str],
        payload: Any,
    ) -> dict[str, Any]:
        if world is None:
            return {"default": self.worlds.default, "worlds": self.worlds.names}
        if path.endswith("/reset"):
            world.reset()
            return {"reset": world.name}
        if "/faults" in path:
            if "check" not in params:
                world.provider.faults.clear()
            elif method == "PUT":
                world.provider.faults.force(Check(params["check"]), FaultKind(payload["kind"]))
            else:
                world.provider.faults.clear(Check(params["check"]))
            return {"forced": {k.value: v.value for k, v in world.provider.faults.forced.items()}}
        if "/quotas/" in path:
            qps = int(payload["qps"]) if method == "PUT" else None
            if qps is not None and qps < 0:
                raise ValueError("qps")
            world.set_quota(Check(params["check"]), qps)
            return {"quotas": {k.value: v for k, v in world.quotas.items()}}
        action = params["action"]
        if action not in ACTIONS:
            raise KeyError(action)
        if method == "PUT":
            if not isinstance(payload, dict) or not ("Result" in payload or "Error" in payload):
                raise ValueError("a forced result needs Result or Error")
            world.forced[action] = payload
        else:
            world.forced.pop(action, None)
        return {"forced": sorted(world.forced)}


def create_app(
    worlds: SandboxWorlds,
    *,
    secrets: Mapping[str, str],
    hang_seconds: float = 30.0,
    now: Callable[[], float] = time.time,
) -> Starlette:
    """The HTTP sandbox over ``worlds``, accepting requests signed with ``secrets``.

    ``secrets`` maps SecretId to SecretKey; ``hang_seconds`` is how long a timeout
    fault holds the response; ``now`` is the server's clock for signature expiry.
    """
    if not secrets:
        raise ValueError("the HTTP sandbox needs at least one SecretId/SecretKey pair")
    api = _Api(worlds, secrets, hang_seconds, now)
    control = ["PUT", "DELETE"]
    app = Starlette(
        routes=[
            Route("/", api.handle, methods=["POST"]),
            Route("/_sandbox/worlds", api.control, methods=["GET"]),
            Route("/_sandbox/worlds/{world}/reset", api.control, methods=["POST"]),
            Route("/_sandbox/worlds/{world}/faults", api.control, methods=["DELETE"]),
            Route("/_sandbox/worlds/{world}/faults/{check}", api.control, methods=control),
            Route("/_sandbox/worlds/{world}/quotas/{check}", api.control, methods=control),
            Route("/_sandbox/worlds/{world}/results/{action}", api.control, methods=control),
        ]
    )
    app.state.worlds = worlds
    return app


#: The checks the server answers.
SERVED_CHECKS = frozenset(action.spec.check for action in ACTIONS.values())
