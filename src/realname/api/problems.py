"""One error model for the whole HTTP API: RFC 9457 ``application/problem+json``.

Every error answer has ``type``, ``title``, ``status``, ``detail`` and a stable
``code`` (the same codes the Python errors carry), plus the ``request_id`` to quote
to support. Validation errors list the failing fields (``errors[].field``) with a
reason but never echo the submitted value, which may be personal data. Unexpected
exceptions become a 500 with code ``INTERNAL_ERROR`` and no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from realname.errors import RealnameError
from realname.logs import request_id_var

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://realname.dev/problems/"

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code.lower().replace("_", "-"),
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Field path and reason for each validation error, without the offending input."""
    errors = []
    for err in exc.errors():
        location = [str(part) for part in err.get("loc", ()) if part != "body"]
        errors.append(
            {
                "field": ".".join(location) or "body",
                "reason": str(err.get("type", "invalid")),
                "message": str(err.get("msg", "invalid value")),
            }
        )
    return errors


async def _realname_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RealnameError)
    if exc.http_status >= 500:
        logger.error("request failed", extra={"code": exc.code})
    return problem(exc.http_status, exc.code, exc.message, **_safe_details(exc.details))


def _safe_details(details: dict[str, Any]) -> dict[str, Any]:
    """Details are designed to be safe (parts, reasons, fields); keep only plain values."""
    return {k: v for k, v in details.items() if isinstance(v, str | int | bool | list)}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    if any(e["reason"] == "json_invalid" for e in errors):
        return problem(400, "MALFORMED_JSON", "The request body is not valid JSON.")
    return problem(
        422,
        "VALIDATION_ERROR",
        "The request body or parameters are invalid.",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    title = exc.detail if isinstance(exc.detail, str) else code
    response = problem(exc.status_code, code, title)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Only the exception type is logged: its message may contain values.
    logger.error("unhandled exception", extra={"exc_type": type(exc).__name__})
    return problem(500, "INTERNAL_ERROR", "An internal error occurred.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RealnameError, _realname_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
