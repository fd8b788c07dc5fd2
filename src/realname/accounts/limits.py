"""Attempt limits: sliding windows of failed attempts per ID number, phone, device and IP.

DESIGN §9 asks for attempt limits per ID, phone, device and IP; DESIGN §4 reports a
lock as ATTEMPTS_LOCKED with the time it ends. Each attempt is an
:class:`~realname.store.models.AttemptEvent` row, so every API process sees the same
counts. A key is *locked* while its failures inside the window reach the rule's
``max_failures``; the lock ends when the oldest of those failures leaves the window
(a sliding window, not a fixed hour, so there is no boundary at which an attacker
gets a fresh allowance). Successes are recorded too — for the funnel and for review —
but only failures count, and a success does not forgive earlier failures: an
attacker who owns one valid identity could otherwise reset an IP's count at will.

Default rules (:class:`AttemptPolicy`): 5 failures per ID number, 10 per phone, 20
per device and 50 per IP address, each per sliding hour; the next attempt after that
is refused. ID numbers and phones are keyed by the vault's blind index, device ids
and IP addresses by an HMAC under a key of their own — no value is stored. IPv6
addresses are keyed by their /64 network, which is what one subscriber usually holds.
Keys are per tenant: a lock at one lender must not tell another lender that the
person applied there.

Pure logic (:func:`lock_end`) is separate from the queries. Nothing here commits.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, delete, insert, select, union_all
from sqlalchemy.orm import Session

from realname.accounts import _keys
from realname.accounts._locks import lock_key
from realname.accounts.errors import AttemptsLocked
from realname.privacy.vault import Vault
from realname.store.models import AttemptEvent
from realname.store.prepared import Prepared
from realname.store.repositories.people import canonical_value
from realname.store.tables import table_of
from realname.store.types import new_id, utcnow


class KeyKind(StrEnum):
    ID_NUMBER = "id_number"
    PHONE = "phone"
    DEVICE = "device"
    IP = "ip"


class Outcome(StrEnum):
    FAILURE = "failure"
    SUCCESS = "success"


@dataclass(frozen=True, order=True)
class AttemptKey:
    """One thing attempts are counted against; ``digest`` is a blind index or HMAC."""

    tenant_id: str
    kind: KeyKind
    digest: str = field(repr=False)


@dataclass(frozen=True)
class Rule:
    """At most ``max_failures`` failures within any ``window``."""

    max_failures: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window <= timedelta(0):
            raise ValueError("a rule needs max_failures >= 1 and a positive window")


_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class AttemptPolicy:
    id_number: Rule = Rule(5, _HOUR)
    phone: Rule = Rule(10, _HOUR)
    device: Rule = Rule(20, _HOUR)
    ip: Rule = Rule(50, _HOUR)

    def rule(self, kind: KeyKind) -> Rule:
        rule: Rule = getattr(self, kind.value)
        return rule

    @property
    def longest_window(self) -> timedelta:
        return max(self.rule(kind).window for kind in KeyKind)


DEFAULT_POLICY = AttemptPolicy()


@dataclass(frozen=True)
class Allowed:
    """The attempt may go ahead; ``remaining`` failures are left on the tightest key."""

    remaining: int


# --- keys -----------------------------------------------------------------------------


def _ip_key(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return value.strip()
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def attempt_keys(
    vault: Vault,
    tenant_id: str,
    *,
    id_number: str | None = None,
    phone: str | None = None,
    device_id: str | None = None,
    ip: str | None = None,
) -> tuple[AttemptKey, ...]:
    """The keys of one attempt; values that are missing or blank are left out.

    Values are only canonicalised (spaces, full-width digits, ``+86``), not validated:
    malformed submissions must be counted too.
    """
    keys: list[AttemptKey] = []
    if id_number and id_number.strip():
        index = vault.blind_index("id_number", canonical_value("id_number", id_number))
        keys.append(AttemptKey(tenant_id, KeyKind.ID_NUMBER, index))
    if phone and phone.strip():
        index = vault.blind_index("phone", canonical_value("phone", phone))
        keys.append(AttemptKey(tenant_id, KeyKind.PHONE, index))
    if device_id and device_id.strip():
        digest = _keys.mac_hex(_keys.subkey(vault, "attempt/device"), device_id.strip())
        keys.append(AttemptKey(tenant_id, KeyKind.DEVICE, digest))
    if ip and ip.strip():
        digest = _keys.mac_hex(_keys.subkey(vault, "attempt/ip"), _ip_key(ip))
        keys.append(AttemptKey(tenant_id, KeyKind.IP, digest))
    return tuple(keys)


# --- pure rule ------------------------------------------------------------------------


def in_window(failures: Iterable[datetime], now: datetime, rule: Rule) -> list[datetime]:
    """The failures that count at ``now``: within ``(now - window, now]``, oldest first."""
    return sorted(at for at in failures if now - rule.window < at <= now)


def lock_end(failures: Iterable[datetime], now: datetime, rule: Rule) -> datetime | None:
    """When the key unlocks, if it is locked at ``now``; ``None`` if it is not.

    Locked while ``max_failures`` or more failures are in the window; unlocked once
    enough of the oldest have left it for the count to drop below the limit.
    """
    counted = in_window(failures, now, rule)
    if len(counted) < rule.max_failures:
        return None
    return counted[len(counted) - rule.max_failures] + rule.window


def remaining(failures: Iterable[datetime], now: datetime, rule: Rule) -> int:
    """How many more failures the key can take before it locks."""
    return max(0, rule.max_failures - len(in_window(failures, now, rule)))


# --- storage --------------------------------------------------------------------------


#: Built once per number of keys (bindparams): building a statement costs more CPU
#: than running it, and this runs on every verification. One index seek of
#: ``ix_attempt_events_key`` per key, joined by UNION ALL: ``key_kind IN (...) AND
#: key_hash IN (...)`` would seek every kind x hash pair (nine for three keys) and
#: make SQLite build a temporary B-tree for each IN list (half the statement's time).
#: Pruning uses the index on ``at``.
_EVENTS = table_of(AttemptEvent)
_FAILURES: dict[int, Prepared] = {}


def _failures_of(count: int) -> Prepared:
    """The failures of ``count`` keys (parameters ``kind_<i>`` and ``hash_<i>``)."""
    found = _FAILURES.get(count)
    if found is None:
        found = _FAILURES[count] = Prepared(
            union_all(
                *(
                    select(_EVENTS.c.key_kind, _EVENTS.c.key_hash, _EVENTS.c.at).where(
                        _EVENTS.c.tenant_id == bindparam("tenant_id"),
                        _EVENTS.c.key_kind == bindparam(f"kind_{i}"),
                        _EVENTS.c.key_hash == bindparam(f"hash_{i}"),
                        _EVENTS.c.outcome == Outcome.FAILURE.value,
                        _EVENTS.c.at > bindparam("since"),
                        _EVENTS.c.at <= bindparam("now"),
                    )
                    for i in range(count)
                )
            )
        )
    return found


_PRUNE = Prepared(delete(_EVENTS).where(_EVENTS.c.at < bindparam("before")))
_INSERT = Prepared(insert(_EVENTS))


def _by_tenant(keys: Iterable[AttemptKey]) -> dict[str, list[AttemptKey]]:
    grouped: dict[str, list[AttemptKey]] = {}
    for key in keys:
        grouped.setdefault(key.tenant_id, []).append(key)
    return grouped


def _key_params(keys: Sequence[AttemptKey]) -> dict[str, str]:
    params: dict[str, str] = {}
    for i, key in enumerate(keys):
        params[f"kind_{i}"] = key.kind.value
        params[f"hash_{i}"] = key.digest
    return params


def _failures(
    session: Session, keys: Sequence[AttemptKey], now: datetime, policy: AttemptPolicy
) -> dict[AttemptKey, list[datetime]]:
    """Each key's failures within its rule's window, in one query per tenant (one)."""
    found: dict[AttemptKey, list[datetime]] = {key: [] for key in keys}
    for tenant_id, group in _by_tenant(keys).items():
        # Each key once: UNION ALL would answer a repeated key's rows twice.
        by_column = {(key.kind.value, key.digest): key for key in group}
        distinct = list(by_column.values())
        since = now - max(policy.rule(key.kind).window for key in distinct)
        rows = _failures_of(len(distinct)).all(
            session,
            {"tenant_id": tenant_id, "since": since, "now": now, **_key_params(distinct)},
        )
        for kind, digest, at in rows:
            key = by_column.get((kind, digest))
            if key is not None and at > now - policy.rule(key.kind).window:
                found[key].append(at)
    return found


def _assess(
    session: Session, keys: Sequence[AttemptKey], now: datetime, policy: AttemptPolicy
) -> tuple[tuple[datetime, KeyKind] | None, int]:
    """The latest lock among ``keys`` (if any) and the failures left on the tightest key."""
    worst: tuple[datetime, KeyKind] | None = None
    left: list[int] = []
    every = _failures(session, keys, now, policy)
    for key in sorted(keys):
        rule = policy.rule(key.kind)
        failures = every[key]
        end = lock_end(failures, now, rule)
        if end is not None and (worst is None or end > worst[0]):
            worst = (end, key.kind)
        left.append(remaining(failures, now, rule))
    return worst, min(left, default=0)


def locked_until(
    session: Session,
    keys: Sequence[AttemptKey],
    *,
    now: datetime | None = None,
    policy: AttemptPolicy = DEFAULT_POLICY,
) -> tuple[datetime, KeyKind] | None:
    """The latest lock among ``keys`` (when it ends and which kind), or ``None``.

    This is what the verification engine puts in ``History.locked_until``.
    """
    return _assess(session, keys, now or utcnow(), policy)[0]


def check(
    session: Session,
    keys: Sequence[AttemptKey],
    *,
    now: datetime | None = None,
    policy: AttemptPolicy = DEFAULT_POLICY,
) -> Allowed:
    """:class:`AttemptsLocked` if any key is locked; otherwise how many failures remain."""
    when = now or utcnow()
    lock, left = _assess(session, keys, when, policy)
    if lock is not None:
        raise AttemptsLocked(lock[0], lock[1].value, now=when)
    return Allowed(remaining=left)


def record(
    session: Session,
    keys: Sequence[AttemptKey],
    outcome: Outcome,
    *,
    now: datetime | None = None,
    policy: AttemptPolicy = DEFAULT_POLICY,
) -> None:
    """Record one attempt's outcome against every key (one batched INSERT).

    Expired events are pruned here too, all keys at once, at most every
    :data:`PRUNE_EVERY` per process: one indexed DELETE a minute instead of one per
    attempt.
    """
    when = now or utcnow()
    ordered = sorted(keys)
    if not ordered:
        session.flush()
        return
    _maybe_prune(session, when, policy)
    _INSERT.run(
        session,
        [
            {
                "id": new_id(),
                "tenant_id": key.tenant_id,
                "key_kind": key.kind.value,
                "key_hash": key.digest,
                "outcome": outcome.value,
                "at": when,
            }
            for key in ordered
        ],
    )


def check_and_record(
    session: Session,
    keys: Sequence[AttemptKey],
    now: datetime | None = None,
    *,
    outcome: Outcome,
    policy: AttemptPolicy = DEFAULT_POLICY,
) -> Allowed:
    """Refuse (recording nothing) if a key is locked; else record ``outcome``.

    For attempts whose outcome is known at once. The keys are locked for the rest of
    the transaction so that parallel attempts are counted one after another. Returns
    the failures left after this one; when that is 0, the next attempt is refused.
    For an attempt that calls out (a paid check), use :func:`check` before and
    :func:`record` after.
    """
    when = now or utcnow()
    for key in sorted(keys):
        lock_key(session, f"attempt:{key.tenant_id}:{key.kind.value}:{key.digest}")
    check(session, keys, now=when, policy=policy)
    record(session, keys, outcome, now=when, policy=policy)
    return Allowed(remaining=_assess(session, keys, when, policy)[1])


#: How long events are kept: the longest window, and a day at least, for the risk
#: gate's attempts-per-day velocity (:mod:`realname.risk.service`).
MIN_RETENTION = timedelta(days=1)
#: How often one process prunes expired events while recording attempts.
PRUNE_EVERY = timedelta(minutes=1)
_last_pruned: list[datetime] = []


def retention(policy: AttemptPolicy = DEFAULT_POLICY) -> timedelta:
    """How long attempt events are kept under ``policy``."""
    return max(policy.longest_window, MIN_RETENTION)


def _maybe_prune(session: Session, now: datetime, policy: AttemptPolicy) -> None:
    if _last_pruned and timedelta(0) <= now - _last_pruned[0] < PRUNE_EVERY:
        return
    prune(session, before=now - retention(policy))
    _last_pruned[:] = [now]


def prune(session: Session, *, before: datetime) -> int:
    """Delete every event older than ``before`` (now − :func:`retention`)."""
    return _PRUNE.run(session, {"before": before})


__all__ = [
    "DEFAULT_POLICY",
    "Allowed",
    "AttemptKey",
    "AttemptPolicy",
    "KeyKind",
    "Outcome",
    "Rule",
    "attempt_keys",
    "check",
    "check_and_record",
    "in_window",
    "lock_end",
    "locked_until",
    "prune",
    "record",
    "remaining",
]
