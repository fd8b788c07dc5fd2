"""A fast path for the well-formed requests of a hot route, FastAPI's handler for the rest.

FastAPI handles every request of a route by solving its dependency tree: for each
level it walks the declared parameters, looks each one up in the request, validates
it through a pydantic field and collects errors; then it validates the return value
against the response model and serialises it. For ``POST
/v1/users/{id}/verifications`` that work cost about 6 % of the instructions of a
whole L2 verification (callgrind, ``bench/bench_api_cost.py``), on the route that
takes the most traffic.

A route declares its fast path with :func:`fast_path`; :class:`FastPathRoute` then
answers a request with it when it can. The fast path reads the request itself and
returns ``None`` — before doing anything with side effects — whenever the request is
anything but well formed (a body that does not validate, a parameter out of range, a
content type other than JSON), and FastAPI's own handler takes that request from the
start. So every refusal keeps the exact shape FastAPI gives it (the 422 problem's
fields and their order), and the fast path only ever does what FastAPI would have
done with a good request. The route stays an ordinary FastAPI route for the OpenAPI
document, and FastAPI's handler also takes every request while dependency overrides
or FastAPI's telemetry are active.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi.telemetry import get_telemetry_data
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from realname.api.routing import SessionEndingRoute

#: A route's fast path: its response, or ``None`` to leave the request to FastAPI.
FastPath = Callable[[Request], Awaitable[Response | None]]

_ATTRIBUTE = "__realname_fast_path__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def fast_path(handler: FastPath) -> Callable[[Endpoint], Endpoint]:
    """Declare ``handler`` as the fast path of the decorated endpoint (see the module)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, handler)
        return endpoint

    return mark


class FastPathRoute(SessionEndingRoute):
    """A route that tries its endpoint's :func:`fast_path` before FastAPI's handler.

    ``fast_path_enabled`` turns the fast path off for one route (the tests compare
    the two paths' answers).
    """

    fast_path_enabled = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()
        fast: FastPath | None = getattr(self.endpoint, _ATTRIBUTE, None)
        if fast is None:
            return generic

        async def handle(request: Request) -> Response:
            if self.fast_path_enabled and not _overridden(request) and _untraced():
                response = await fast(request)
                if response is not None:
                    return response
            return await generic(request)

        return handle


def _overridden(request: Request) -> bool:
    """Whether the app overrides dependencies (tests do): FastAPI's handler applies them."""
    overrides: dict[Any, Any] | None = getattr(request.app, "dependency_overrides", None)
    return bool(overrides)


def _untraced() -> bool:
    """Whether FastAPI's telemetry is off for this request (it is unless configured)."""
    return get_telemetry_data() is None


# ------------------------------------------------------------- reading the request

Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request, model: type[Model]) -> Model | None:
    """The request's JSON body as ``model``, or ``None`` if FastAPI should answer.

    As FastAPI reads a single body parameter: the body parsed as JSON when the
    content type is ``application/json`` (or ``*/*+json``), then validated from the
    parsed value. Anything else — an empty body, another content type, JSON that does
    not parse or does not validate — is left to FastAPI, which refuses it in its own
    words. The body stays cached on the request for FastAPI to read again.
    """
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return None
    raw = await request.body()
    if not raw:
        return None
    try:
        return model.model_validate(json.loads(raw))
    except (ValueError, ValidationError):  # json.JSONDecodeError is a ValueError
        return None


def json_response(model: BaseModel) -> Response:
    """``model`` as FastAPI serialises a route's response model: by alias, as JSON."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")
