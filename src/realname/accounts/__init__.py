"""Accounts: SMS one-time codes, sign-up and log-in by phone, sessions, attempt limits,
proven phones and account linking.

Public surface, one module per concept:

* :mod:`~realname.accounts.otp` — :func:`~realname.accounts.otp.start_challenge`,
  :func:`~realname.accounts.otp.answer_challenge`, :class:`~realname.accounts.otp.Purpose`,
  :class:`~realname.accounts.otp.OtpPolicy`;
* :mod:`~realname.accounts.service` — :func:`~realname.accounts.service.start_signup_or_login`,
  :func:`~realname.accounts.service.complete`;
* :mod:`~realname.accounts.sessions` — session tokens: issue, authenticate, revoke;
* :mod:`~realname.accounts.possession` — which account proved holding which phone;
* :mod:`~realname.accounts.limits` — sliding-window attempt limits (ATTEMPTS_LOCKED);
* :mod:`~realname.accounts.linking` — linking two accounts of one person;
* :mod:`~realname.accounts.errors` — the error codes, and :func:`unit_of_work`.

Every function takes the caller's SQLAlchemy ``Session`` and never commits. Some
refusals (a wrong code, an undelivered message) must be committed nonetheless; see
:class:`~realname.accounts.errors.RecordedRefusal`.
"""

from __future__ import annotations

from realname.accounts.errors import (
    AccountsError,
    AttemptsLocked,
    LinkNotProven,
    OtpAttemptsExceeded,
    OtpError,
    OtpExpired,
    OtpInvalid,
    OtpRateLimited,
    OtpUndeliverable,
    RecordedRefusal,
    unit_of_work,
)

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
