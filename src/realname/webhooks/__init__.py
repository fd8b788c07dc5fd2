"""Webhooks: tell a tenant's servers when a user's verification status changes.

Platform engineers (DESIGN §2) register HTTPS endpoints and receive signed
``verification.status_changed`` events instead of polling ``/v1/users/{id}/status``.

* :mod:`.outbox` — endpoints, and :func:`enqueue_status_changed`, which writes one
  delivery per subscribed endpoint in the caller's transaction (outbox pattern);
* :mod:`.dispatcher` — sends due deliveries, retries with backoff, logs each attempt;
* :mod:`.signing` — Standard Webhooks signatures (and :func:`verify` for receivers);
* :mod:`.policy` — which URLs are allowed and the retry schedule (pure);
* :mod:`.sealing` — signing secrets encrypted at rest.
"""

from __future__ import annotations

from realname.webhooks.dispatcher import (
    DispatchReport,
    dispatch_due,
    dispatching,
    install_dispatcher,
    run,
    run_dispatcher,
)
from realname.webhooks.outbox import (
    EVENT_STATUS_CHANGED,
    EVENT_TYPES,
    RegisteredEndpoint,
    delete_endpoint,
    enqueue_status_changed,
    list_deliveries,
    list_endpoints,
    register_endpoint,
)
from realname.webhooks.sealing import SecretBox
from realname.webhooks.signing import sign, verify

__all__ = [
    "EVENT_STATUS_CHANGED",
    "EVENT_TYPES",
    "DispatchReport",
    "RegisteredEndpoint",
    "SecretBox",
    "delete_endpoint",
    "dispatch_due",
    "dispatching",
    "enqueue_status_changed",
    "install_dispatcher",
    "list_deliveries",
    "list_endpoints",
    "register_endpoint",
    "run",
    "run_dispatcher",
    "sign",
    "verify",
]
