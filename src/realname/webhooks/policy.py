"""Where webhooks may go, and when a failed one is tried again. Pure functions.

**URLs.** Only ``https://``, so payloads and signatures cross the network encrypted;
plain ``http://`` only to a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``)
for local development and tests. Credentials in the URL are refused (they would be
stored and logged as part of it), and so are fragments.

**Retries.** A failed attempt (a non-2xx answer, a timeout, a connection error) is
tried again after 30 s, 2 min, 10 min, 30 min, 1 h, 3 h and 6 h — eight attempts over
about ten hours — each delay scaled by a random factor in [0.8, 1.2] so that
deliveries failed by one outage do not all come back at the same second ("jitter",
as in the AWS Architecture Blog's *Exponential Backoff and Jitter*). The ranges do
not overlap, so every wait is longer than the one before.
"""

from __future__ import annotations

import ipaddress
import random
from datetime import timedelta
from urllib.parse import urlsplit

from realname.webhooks.errors import WebhookUrlRejected

MAX_URL_LENGTH = 2048
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
)
#: The first attempt plus one per retry delay.
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2

_system_random = random.SystemRandom()


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (IPv4 127/8, IPv6 ::1)."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """``url`` if webhooks may be sent to it; :class:`WebhookUrlRejected` otherwise.

    The message says which rule failed, never echoes the URL.
    """
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRejected(f"A webhook URL must be 1 to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlRejected("The webhook URL cannot be parsed.") from exc
    host = parts.hostname or ""
    if parts.scheme not in {"https", "http"} or not host:
        raise WebhookUrlRejected("A webhook URL needs an https:// scheme and a host.")
    if parts.scheme == "http" and not is_loopback(host):
        raise WebhookUrlRejected()
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRejected("A webhook URL must not contain credentials.")
    if parts.fragment or url.endswith("#"):
        raise WebhookUrlRejected("A webhook URL must not contain a fragment.")
    if port == 0:
        raise WebhookUrlRejected("The webhook URL's port is invalid.")
    return url


def retry_delay(attempt: int, rng: random.Random | None = None) -> timedelta | None:
    """How long to wait after failed attempt number ``attempt`` (1-based); ``None``: give up."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    if attempt >= MAX_ATTEMPTS:
        return None
    factor = (rng or _system_random).uniform(1 - JITTER, 1 + JITTER)
    return RETRY_DELAYS[attempt - 1] * factor


__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_DELAYS",
    "check_url",
    "is_loopback",
    "retry_delay",
]
