"""``Idempotency-Key`` on every POST: retry safely, run once.

Semantics of draft-ietf-httpapi-idempotency-key-header (IETF HTTPAPI working group):
a client that sends ``Idempotency-Key: "<unique value>"`` with a POST may repeat the
request after a timeout or a dropped connection, and the request runs at most once.

* The first request with a key claims it for its tenant, and records a fingerprint:
  SHA-256 over the method, path, query and the SHA-256 of the body. The body itself
  is never stored.
* When it finishes, its answer (status, a few headers, body) is stored for 24 hours;
  a repeat with the same key and fingerprint gets that answer again, marked
  ``Idempotent-Replayed: true``, without the handler running.
* The same key with a different request is ``422 IDEMPOTENCY_KEY_REUSED``; a repeat
  while the first is still running is ``409 IDEMPOTENCY_IN_PROGRESS``; a malformed
  key is ``400 IDEMPOTENCY_KEY_INVALID``.
* Answers that say "not processed, try again" are not stored and free the key:
  401, 403, 408, 409, 425, 429 and every 5xx (as Stripe does for requests that did
  not start executing). A first request whose process dies frees its key after
  :data:`LOCK_TIMEOUT`.

Keys belong to tenants: two tenants using the same key never meet. Requests without
the header, or without a valid API key, pass through untouched (the route answers 401
itself). Stored bodies are already masked (no route returns personal data), but some
carry a secret shown once — a session token, a webhook signing secret — so they are
stored AES-256-GCM encrypted, under a key derived (HKDF-SHA256, RFC 5869) from the
vault's blind-index key and bound to the tenant and key.

Known limit: the handler's transaction commits before the answer is stored, so a
crash between the two leaves the key claimed until the lock times out, after which a
retry runs the handler again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

import anyio
import anyio.to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI
from sqlalchemy import CursorResult, Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from realname.api import problems
from realname.api.deps import presented_key
from realname.errors import BadRequest, Conflict, RealnameError
from realname.privacy.keys import Keyring, hkdf_sha256
from realname.store.models import IdempotencyKey
from realname.store.repositories.tenants import authenticate_api_key, check_api_key
from realname.store.types import utcnow

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
MAX_KEY_LENGTH = 255
#: How long a stored answer is replayed (the draft suggests at least 24 hours).
KEY_TTL = timedelta(hours=24)
#: How long a first request may run before a retry may take its key over.
LOCK_TIMEOUT = timedelta(minutes=5)
#: Expired keys are deleted at most this often by each process.
PRUNE_INTERVAL = timedelta(hours=1)
#: Answers larger than this are not stored (the key is freed instead).
MAX_STORED_BODY = 1024 * 1024
#: Answer headers worth replaying; the rest (request id, date, length) belong to one answer.
STORED_HEADERS = ("content-type", "content-language", "location", "link")
#: "Not processed, try again": these free the key instead of being stored (and every 5xx).
RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 425, 429})

_SEAL_LABEL = b"realname/v1/idempotency-response"
_NONCE_BYTES = 12


class IdempotencyKeyInvalid(BadRequest):
    code = "IDEMPOTENCY_KEY_INVALID"
    default_message = (
        f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} visible ASCII characters."
    )


class IdempotencyKeyReused(RealnameError):
    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422
    default_message = "This Idempotency-Key was already used for a different request."


class IdempotencyInProgress(Conflict):
    code = "IDEMPOTENCY_IN_PROGRESS"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."


def parse_key(raw: str) -> str:
    """The key in an ``Idempotency-Key`` header value.

    The draft defines the value as a Structured Field String (RFC 8941 §3.3.3,
    ``"…"`` with ``\\"`` and ``\\\\`` escapes); a bare token is accepted too, since
    many clients send one. Either way the key is 1 to 255 printable ASCII characters.
    """
    text = raw.strip(" \t")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        key = _unquote(text[1:-1])
    elif text and all(0x21 <= ord(char) <= 0x7E and char != '"' for char in text):
        key = text
    else:
        raise IdempotencyKeyInvalid()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid()
    return key


def _unquote(inner: str) -> str:
    out: list[str] = []
    escaped = False
    for char in inner:
        if not 0x20 <= ord(char) <= 0x7E:
            raise IdempotencyKeyInvalid()
        if escaped:
            if char not in '"\\':
                raise IdempotencyKeyInvalid()
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            raise IdempotencyKeyInvalid()
        else:
            out.append(char)
    if escaped:
        raise IdempotencyKeyInvalid()
    return "".join(out)


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """SHA-256 (hex) identifying a request without keeping its body."""
    body_hash = hashlib.sha256(body).hexdigest()
    document = b"\n".join(
        [method.upper().encode("ascii"), path.encode("utf-8"), query, body_hash.encode("ascii")]
    )
    return hashlib.sha256(document).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """An answer as kept for replay."""

    status: int
    headers: dict[str, str]
    body: bytes


class ResponseSeal:
    """AES-256-GCM for stored answers, bound to the tenant and the key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "ResponseSeal()"

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> ResponseSeal:
        return cls(hkdf_sha256(keyring.index_key, _SEAL_LABEL))

    def seal(self, tenant_id: str, key: str, body: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, body, _aad(tenant_id, key))

    def open(self, tenant_id: str, key: str, blob: bytes) -> bytes:
        return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(tenant_id, key))


def _aad(tenant_id: str, key: str) -> bytes:
    # A key is printable ASCII, so the NUL separator cannot be forged by it.
    return _SEAL_LABEL + b"\x00" + tenant_id.encode("utf-8") + b"\x00" + key.encode("ascii")


def prune_expired(session: Session, now: datetime) -> int:
    """Delete every key whose answer is past its 24 hours; the number deleted."""
    result = cast(
        CursorResult[Any],
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now)),
    )
    return int(result.rowcount or 0)


class IdempotencyStore:
    """The database side: claim a key, store or free it, replay an answer.

    Each step is its own short transaction, never held while the handler runs, so
    SQLite's single writer is never blocked by a slow request. Takeovers of expired
    keys and of stale locks are conditional UPDATEs, so two racing retries cannot
    both win.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        seal: ResponseSeal,
        *,
        ttl: timedelta = KEY_TTL,
        lock_timeout: timedelta = LOCK_TIMEOUT,
    ) -> None:
        self._factory = session_factory
        self._seal = seal
        self._ttl = ttl
        self._lock_timeout = lock_timeout
        self._pruned_at: datetime | None = None
        self._prune_lock = threading.Lock()

    def authenticate(self, presented: str) -> str | None:
        """The tenant of a presented API key, or ``None``.

        A read without the write lock, as the route's own key check is
        (:func:`~realname.store.repositories.tenants.check_api_key`); recording the
        key's use is left to that check.
        """
        bind = self._factory.kw.get("bind")
        if not isinstance(bind, Engine):  # pragma: no cover - the app binds an engine
            with self._factory.begin() as session:
                principal = authenticate_api_key(session, presented)
        else:
            principal, _ = check_api_key(bind, presented)
        return None if principal is None else str(principal.tenant_id)

    def claim(
        self, tenant_id: str, key: str, request_fingerprint: str, now: datetime
    ) -> StoredResponse | None:
        """``None`` when this request may run; the stored answer when it is a replay.

        Raises :class:`IdempotencyKeyReused` or :class:`IdempotencyInProgress`.
        """
        self._maybe_prune(now)
        for _ in range(3):
            if self._insert(tenant_id, key, request_fingerprint, now):
                return None
            with self._factory() as session:
                row = session.get(IdempotencyKey, (tenant_id, key))
                if row is not None:
                    session.expunge(row)
            if row is None:
                continue  # pruned between our insert and our read; insert again
            if row.expires_at <= now:
                if self._take_over(row, request_fingerprint, now, expired=True):
                    return None
                continue
            if row.fingerprint != request_fingerprint:
                raise IdempotencyKeyReused()
            if row.status == "completed":
                return self._stored(row)
            if row.locked_until is not None and row.locked_until > now:
                raise IdempotencyInProgress()
            if self._take_over(row, request_fingerprint, now, expired=False):
                return None
        raise IdempotencyInProgress()

    def complete(
        self,
        tenant_id: str,
        key: str,
        request_fingerprint: str,
        response: StoredResponse,
    ) -> None:
        with self._factory.begin() as session:
            session.execute(
                update(IdempotencyKey)
                .where(*self._mine(tenant_id, key, request_fingerprint))
                .values(
                    status="completed",
                    locked_until=None,
                    response_status=response.status,
                    response_headers=response.headers,
                    response_body=self._seal.seal(tenant_id, key, response.body),
                )
            )

    def release(self, tenant_id: str, key: str, request_fingerprint: str) -> None:
        with self._factory.begin() as session:
            session.execute(
                delete(IdempotencyKey).where(*self._mine(tenant_id, key, request_fingerprint))
            )

    def prune(self, now: datetime) -> int:
        with self._factory.begin() as session:
            return prune_expired(session, now)

    # --- internals ----------------------------------------------------------------

    @staticmethod
    def _mine(tenant_id: str, key: str, request_fingerprint: str) -> tuple[Any, ...]:
        return (
            IdempotencyKey.tenant_id == tenant_id,
            IdempotencyKey.key == key,
            IdempotencyKey.fingerprint == request_fingerprint,
            IdempotencyKey.status == "in_progress",
        )

    def _insert(self, tenant_id: str, key: str, request_fingerprint: str, now: datetime) -> bool:
        try:
            with self._factory.begin() as session:
                session.add(
                    IdempotencyKey(
                        tenant_id=tenant_id,
                        key=key,
                        fingerprint=request_fingerprint,
                        status="in_progress",
                        created_at=now,
                        locked_until=now + self._lock_timeout,
                        expires_at=now + self._ttl,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _take_over(
        self, row: IdempotencyKey, request_fingerprint: str, now: datetime, *, expired: bool
    ) -> bool:
        """Claim an expired key, or a stale lock, unless another retry got there first."""
        condition = (
            IdempotencyKey.expires_at == row.expires_at
            if expired
            else (IdempotencyKey.locked_until == row.locked_until)
        )
        with self._factory.begin() as session:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(IdempotencyKey)
                    .where(
                        IdempotencyKey.tenant_id == row.tenant_id,
                        IdempotencyKey.key == row.key,
                        condition,
                    )
                    .values(
                        fingerprint=request_fingerprint,
                        status="in_progress",
                        response_status=None,
                        response_headers=None,
                        response_body=None,
                        created_at=now,
                        locked_until=now + self._lock_timeout,
                        expires_at=now + self._ttl if expired else row.expires_at,
                    )
                ),
            )
            return result.rowcount == 1

    def _stored(self, row: IdempotencyKey) -> StoredResponse:
        if row.response_status is None or row.response_body is None:
            raise IdempotencyInProgress()
        try:
            body = self._seal.open(row.tenant_id, row.key, row.response_body)
        except (InvalidTag, ValueError):
            # Unreadable (the key material changed): better a clear refusal than a
            # second execution the client asked us to prevent.
            logger.error("stored idempotent answer unreadable")
            raise IdempotencyInProgress("The stored answer for this key cannot be read.") from None
        headers = {str(k): str(v) for k, v in (row.response_headers or {}).items()}
        return StoredResponse(row.response_status, headers, body)

    def _maybe_prune(self, now: datetime) -> None:
        with self._prune_lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL:
                return
            self._pruned_at = now
        try:
            pruned = self.prune(now)
        except Exception as exc:  # pruning is housekeeping; never fail a request for it
            logger.warning("idempotency prune failed", extra={"exc_type": type(exc).__name__})
            return
        if pruned:
            logger.info("idempotency keys pruned", extra={"count": pruned})


def _should_store(status: int, body_length: int) -> bool:
    return status < 500 and status not in RETRYABLE_STATUSES and body_length <= MAX_STORED_BODY


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class IdempotencyMiddleware:
    """ASGI middleware applying :class:`IdempotencyStore` to POST and PATCH requests.

    ``store`` defaults to one built from ``app.state.context`` (its session factory
    and the vault's keyring) on first use; ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyStore | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self._store = store
        self._clock = clock

    def _store_for(self, scope: Scope) -> IdempotencyStore:
        if self._store is None:
            context = scope["app"].state.context
            self._store = IdempotencyStore(
                context.session_factory, ResponseSeal.from_keyring(context.vault.keyring)
            )
        return self._store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        raw_key = headers.get(HEADER)
        if raw_key is None:  # most requests: no need to look further
            await self.app(scope, receive, send)
            return
        presented = presented_key(headers.get("authorization"), headers.get("x-api-key"))
        if presented is None:
            await self.app(scope, receive, send)
            return
        store = self._store_for(scope)
        tenant_id = await anyio.to_thread.run_sync(store.authenticate, presented)
        if tenant_id is None:
            await self.app(scope, receive, send)  # the route answers 401 itself
            return
        try:
            key = parse_key(raw_key)
        except IdempotencyKeyInvalid as error:
            await _problem(error)(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return
        request_fingerprint = fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b""), body
        )
        try:
            stored = await anyio.to_thread.run_sync(
                store.claim, tenant_id, key, request_fingerprint, self._clock()
            )
        except (IdempotencyKeyReused, IdempotencyInProgress) as error:
            await _problem(error)(scope, receive, send)
            return
        if stored is not None:
            await _replay(stored)(scope, receive, send)
            return
        await self._run_once(
            scope, receive, send, body, store, (tenant_id, key, request_fingerprint)
        )

    async def _run_once(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        store: IdempotencyStore,
        claim: tuple[str, str, str],
    ) -> None:
        body_sent = False

        async def replay_body() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(partial(store.release, *claim))
            raise
        answer = _answer(messages)
        with anyio.CancelScope(shield=True):
            try:
                if answer is not None and _should_store(answer.status, len(answer.body)):
                    await anyio.to_thread.run_sync(partial(store.complete, *claim, answer))
                else:
                    await anyio.to_thread.run_sync(partial(store.release, *claim))
            except Exception as exc:
                # The handler ran and its answer must still reach the client; the key
                # stays claimed until LOCK_TIMEOUT.
                logger.error("idempotent answer not stored", extra={"exc_type": type(exc).__name__})
        for message in messages:
            await send(message)


def _answer(messages: list[Message]) -> StoredResponse | None:
    """The complete answer among captured ASGI messages, or ``None`` if it is incomplete."""
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    if start is None or not bodies or bodies[-1].get("more_body", False):
        return None
    kept: dict[str, str] = {}
    for raw_name, raw_value in start.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if name in STORED_HEADERS:
            value = raw_value.decode("latin-1")
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return StoredResponse(
        status=int(start["status"]),
        headers=kept,
        body=b"".join(m.get("body", b"") for m in bodies),
    )


def _replay(stored: StoredResponse) -> Response:
    return Response(
        content=stored.body,
        status_code=stored.status,
        headers={**stored.headers, REPLAYED_HEADER: "true"},
    )


def _problem(error: RealnameError) -> Response:
    return problems.problem(error.http_status, error.code, error.message)


_PARAMETER_DESCRIPTION = (
    "Makes this POST safe to retry (draft-ietf-httpapi-idempotency-key-header). A unique "
    'value per operation — a UUID — as a Structured Field String (`"…"`) or a bare '
    "token, 1 to 255 printable ASCII characters. The first answer (except 401, 403, 408, "
    "409, 425, 429 and 5xx, which free the key) is kept for 24 hours per tenant: a retry "
    "with the same key and the same request gets it again with `Idempotent-Replayed: "
    "true`, and the operation runs once. The same key with a different request is 422 "
    "`IDEMPOTENCY_KEY_REUSED`; a retry while the first is still running is 409 "
    "`IDEMPOTENCY_IN_PROGRESS`; a malformed key is 400 `IDEMPOTENCY_KEY_INVALID`."
)


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the shared ``Idempotency-Key`` parameter to every POST/PATCH of an OpenAPI document."""
    components = schema.setdefault("components", {})
    components.setdefault("parameters", {})["IdempotencyKey"] = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": _PARAMETER_DESCRIPTION,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH + 2},
        "example": '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
    }
    components.setdefault("headers", {})["IdempotentReplayed"] = {
        "description": "`true` when this answer is a stored one, replayed for a repeated key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
    reference = {"$ref": "#/components/parameters/IdempotencyKey"}
    for item in schema.get("paths", {}).values():
        for method in ("post", "patch"):
            operation = item.get(method)
            if operation is None:
                continue
            parameters = operation.setdefault("parameters", [])
            if reference not in parameters:
                parameters.append(reference)
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    response.setdefault("headers", {})[REPLAYED_HEADER] = {
                        "$ref": "#/components/headers/IdempotentReplayed"
                    }
            operation.setdefault("responses", {}).setdefault(
                "409", {"description": "`IDEMPOTENCY_IN_PROGRESS` (or another conflict)."}
            )
    return schema


def install(app: FastAPI, *, clock: Callable[[], datetime] = utcnow) -> None:
    """Add the middleware to ``app`` and document the header in its OpenAPI.

    Install it before the request-id middleware, so that request ids and access logs
    cover replayed and refused requests too.
    """
    app.add_middleware(IdempotencyMiddleware, clock=clock)
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = [
    "HEADER",
    "KEY_TTL",
    "REPLAYED_HEADER",
    "IdempotencyInProgress",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "IdempotencyMiddleware",
    "IdempotencyStore",
    "ResponseSeal",
    "StoredResponse",
    "document",
    "fingerprint",
    "install",
    "parse_key",
    "prune_expired",
]
