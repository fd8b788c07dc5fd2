"""Errors of :mod:`realname.accounts`, each with a stable code (add codes, never rename).

Some refusals change state before they are raised: a wrong code counts against the
code's attempts, a message that could not be delivered still counts against the
phone's send limits. Those errors are :class:`RecordedRefusal` s, and their session
changes must be **committed**, not rolled back — otherwise an attacker could guess a
code for ever, one rolled-back transaction at a time. :func:`unit_of_work` is a
transaction that does exactly that; an HTTP layer must do the same.

No message quotes a phone, a code or any other submitted value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from realname.errors import RealnameError


class RecordedRefusal:
    """Marks an error whose session changes must be committed before it propagates."""


class AccountsError(RealnameError):
    """Base of the errors raised by :mod:`realname.accounts`."""

    code = "ACCOUNTS_ERROR"
    http_status = 400
    default_message = "The account request was refused."


class OtpError(AccountsError):
    """A one-time code was refused or could not be sent."""


class OtpInvalid(OtpError, RecordedRefusal):
    """The code is wrong, or the challenge is unknown, used up or for something else.

    ``attempts_left`` is present when a wrong answer was counted against a live code.
    """

    code = "OTP_INVALID"
    http_status = 400
    default_message = "The verification code is not correct."


class OtpExpired(OtpError):
    """The code's validity ended, or a newer code replaced it."""

    code = "OTP_EXPIRED"
    http_status = 400
    default_message = "The verification code has expired; request a new one."


class OtpAttemptsExceeded(OtpError, RecordedRefusal):
    """Too many wrong answers: the code can no longer be used."""

    code = "OTP_ATTEMPTS_EXCEEDED"
    http_status = 429
    default_message = "Too many wrong verification codes; request a new one."


class OtpRateLimited(OtpError):
    """Too many codes were sent to this phone recently; ``retry_after`` is in seconds."""

    code = "OTP_RATE_LIMITED"
    http_status = 429
    default_message = "Too many verification codes were requested; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, retry_after=retry_after)


class OtpUndeliverable(OtpError, RecordedRefusal):
    """The SMS gateway could not deliver the code (suspended, cancelled or unknown number)."""

    code = "OTP_UNDELIVERABLE"
    http_status = 422
    default_message = (
        "The verification code could not be delivered to this number; check that the "
        "number is in service."
    )


class AttemptsLocked(AccountsError):
    """Too many failed attempts for an ID number, phone, device or IP (DESIGN §4, §9).

    ``until`` is when the oldest counted failure leaves the window; ``scope`` names
    which kind of key is locked (``id_number``, ``phone``, ``device``, ``ip``).
    """

    code = "ATTEMPTS_LOCKED"
    http_status = 429
    default_message = "Too many failed attempts; try again later."

    def __init__(self, until: datetime, scope: str, *, now: datetime | None = None) -> None:
        self.until = until
        self.scope = scope
        reference = now or datetime.now(UTC)
        retry_after = max(0, math.ceil((until - reference).total_seconds()))
        super().__init__(None, until=until.isoformat(), retry_after=retry_after, scope=scope)


class LinkNotProven(AccountsError):
    """The user has not proved control of the other account recently enough to link it.

    ``reason``: ``no_challenge`` (unknown, unanswered or for something else),
    ``used`` (already spent), ``stale`` (answered more than the allowed time ago) or
    ``other_phone`` (the code went to a phone the other account does not have).
    """

    code = "LINK_NOT_PROVEN"
    http_status = 403
    default_message = "Confirm the other account's phone with a new verification code first."

    def __init__(self, reason: str, message: str | None = None, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)


@contextmanager
def unit_of_work(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that commits on success *and* on a :class:`RecordedRefusal`.

    Any other exception rolls back. Use it (or the same rule in an HTTP dependency)
    around the functions of :mod:`realname.accounts`, which never commit themselves.
    """
    with session_factory() as session:
        try:
            yield session
        except BaseException as error:
            if isinstance(error, RecordedRefusal):
                session.commit()
            else:
                session.rollback()
            raise
        else:
            session.commit()


__all__ = [
    "AccountsError",
    "AttemptsLocked",
    "LinkNotProven",
    "OtpAttemptsExceeded",
    "OtpError",
    "OtpExpired",
    "OtpInvalid",
    "OtpRateLimited",
    "OtpUndeliverable",
    "RecordedRefusal",
    "unit_of_work",
]
