"""The errors webhooks raise; each carries a stable code (see :mod:`realname.errors`)."""

from __future__ import annotations

from realname.errors import BadRequest, Conflict, RealnameError


class WebhookUrlRejected(BadRequest):
    """An endpoint URL we will not send to (not HTTPS, credentials inside, malformed)."""

    code = "WEBHOOK_URL_REJECTED"
    default_message = "Webhook URLs must be https:// (http:// only for loopback hosts)."


class WebhookLimitReached(Conflict):
    """The tenant already has as many endpoints as one tenant may register."""

    code = "WEBHOOK_LIMIT_REACHED"
    default_message = "This tenant has registered the most webhook endpoints it may."


class WebhookSignatureInvalid(RealnameError):
    """A webhook's signature, timestamp or headers do not verify (receiver side)."""

    code = "WEBHOOK_SIGNATURE_INVALID"
    http_status = 400
    default_message = "The webhook signature does not verify."


class WebhookSecretUnreadable(RealnameError):
    """A stored signing secret failed authentication: wrong key, or moved between rows."""

    code = "WEBHOOK_SECRET_UNREADABLE"
    default_message = "A webhook signing secret cannot be decrypted."


__all__ = [
    "WebhookLimitReached",
    "WebhookSecretUnreadable",
    "WebhookSignatureInvalid",
    "WebhookUrlRejected",
]
