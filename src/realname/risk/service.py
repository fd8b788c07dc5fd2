"""Adaptive step-up at the edges: signals from the request and the store, the gate, the ledger.

:func:`realname.risk.assess` is pure; this module feeds it and acts on its answer.

**Signals** (:func:`gather`) for one request on one account:

- ``X-Device-Id`` header: the device id (a UUID or 16–64 hex characters; any other
  shape is *unknown*). *Known* means the account acted from it before without a
  step-up, or after passing one (:class:`~realname.store.models.RiskDevice`, keyed
  by an HMAC of the id).
- the client address (``request.client.host``; proxies' ``X-Forwarded-For`` is not
  trusted here) → province with :mod:`realname.risk.geoip`.
- the bound phone (decrypted) → its home province (``realname.identity.phone``).
- SIM swap from the latest ``sim_swap`` :class:`VerificationCheck` of the account,
  if younger than :data:`SIM_SWAP_FRESH`; older or absent is *unknown*. Network
  tenure is not stored as a bucket by the checks, so it is unknown.
- attempt velocity per ID number, phone, device and IP from the attempt-limit
  events (:mod:`realname.accounts.limits`; those are pruned after an hour, so the
  24-hour counts are a lower bound).
- days since the last successful verification (``VerificationResult.verified_at``).
- behaviour, only from the ``X-Risk-Behaviour`` header, a JSON object of at most
  1 KiB: ``{"consent": true, "fill_seconds": 42.5, "paste_identity_fields": 0,
  "corrections": 1, "focus_changes": 2, "cadence_distance": 0.7}``. Without
  ``"consent": true`` the values are dropped unread and the decision notes
  ``BEHAVIOUR_IGNORED_NO_CONSENT``; a malformed header is noted ``BEHAVIOUR_MALFORMED``.

**Enforcement** (:func:`check_action`): when the decision's ``step_up`` is not empty,
a challenge is opened in the persistent ledger (:class:`SqlStepUpLedger`) and the
caller answers 403 ``STEP_UP_REQUIRED`` with ``step_up_id``, ``factors`` and ranked
``reasons`` (code, zh-CN and en text). The client passes the factors
(``/v1/step-ups/{id}``) and retries with ``X-Step-Up: <id>``; that unlocks the action
once for that account and action — the consume is one guarded ``UPDATE``.
Every decision goes to the audit log: action, outcome, score, reason codes, factors,
notes — never personal data.

**Mode** (:func:`resolve_mode`): ``enforce``, ``monitor`` (decide and audit, refuse
nothing) or ``auto`` — ``app.state.risk_enforcement`` if set, else the
``REALNAME_RISK_ENFORCEMENT`` environment variable, else ``auto``. ``auto`` enforces
when the request carries device signals or the tenant's clients have sent device ids
before, and only monitors (noting ``MONITOR_NO_DEVICE_SIGNALS``) a tenant whose
integration sends none yet. Why not simply "enforce when signals are present": the
signals come from the client, so a per-request rule would let an attacker switch
enforcement off by leaving the header out. Remembering per tenant closes that: once
an integration sends devices, a missing one is unknown (scored as risky), and a
tenant that never integrated is not locked out by scores built on nothing.

**Account-history signals** beyond the request: ``device_other_people`` is the device
graph (other people's accounts in the tenant that acted from this device, counted
from the remembered devices). The carrier checks do not date a swap and the platform
keeps no emergency-contact graph yet, so ``sim_swap_hours`` and
``device_of_relative`` stay unknown here; the behaviour header may carry
``cadence_distance`` from a behavioural-biometrics component (consent applies).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request

from realname.accounts import _keys
from realname.accounts.limits import attempt_keys
from realname.errors import RealnameError
from realname.privacy.vault import Vault
from realname.risk import assess
from realname.risk.errors import StepUpInvalid
from realname.risk.policy import Language, RiskDecision, explain
from realname.risk.signals import Action, Behaviour, Factor, Signals, Velocity, phone_home_province
from realname.store.models import (
    Account,
    AttemptEvent,
    RiskDevice,
    StepUpChallenge,
    VerificationCheck,
    VerificationResult,
)
from realname.store.repositories import audit
from realname.store.repositories.people import get_person, read_account_phone, read_identity
from realname.store.types import new_id

DEVICE_HEADER = "X-Device-Id"
STEP_UP_HEADER = "X-Step-Up"
BEHAVIOUR_HEADER = "X-Risk-Behaviour"
MODE_ENV = "REALNAME_RISK_ENFORCEMENT"
#: How long a step-up challenge may be completed and used.
CHALLENGE_TTL = timedelta(minutes=15)
#: How old a stored SIM-swap answer may be and still say "not swapped".
SIM_SWAP_FRESH = timedelta(days=7)
MAX_BEHAVIOUR_HEADER = 1024

Mode = Literal["enforce", "monitor"]
Setting = Literal["enforce", "monitor", "auto"]
Outcome = Literal["allow", "unlocked", "step_up", "step_up_refused", "monitor_step_up"]

_FACTOR_ORDER = list(Factor)
_LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")


class StepUpRequired(RealnameError):
    """The action needs the ``factors`` listed; pass them, then retry with ``X-Step-Up``."""

    code = "STEP_UP_REQUIRED"
    http_status = 403
    default_message = "This action needs further verification."


# --- the request's side ----------------------------------------------------------------


@dataclass(frozen=True)
class EdgeSignals:
    """What the request itself tells: raw device id, client address, consented behaviour."""

    device_id: str | None = None
    ip: str | None = None
    consent: bool = False
    behaviour: Behaviour | None = None
    step_up_id: str | None = None
    notes: tuple[str, ...] = ()


def parse_behaviour(raw: str | None) -> tuple[Behaviour | None, bool, tuple[str, ...]]:
    """Behaviour, consent and notes from the ``X-Risk-Behaviour`` header value.

    Without consent nothing is kept: the values are dropped and the fact is noted.
    """
    if raw is None:
        return None, False, ()
    try:
        data = json.loads(raw) if len(raw) <= MAX_BEHAVIOUR_HEADER else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return None, False, ("BEHAVIOUR_MALFORMED",)
    consent = data.pop("consent", False) is True
    if not consent:
        return None, False, ("BEHAVIOUR_IGNORED_NO_CONSENT",) if data else ()
    try:
        return Behaviour.model_validate(data), True, ()
    except ValidationError:
        return None, True, ("BEHAVIOUR_MALFORMED",)


def _address(host: str | None) -> str | None:
    if host is None:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def edge_signals(request: Request) -> EdgeSignals:
    behaviour, consent, notes = parse_behaviour(request.headers.get(BEHAVIOUR_HEADER))
    device = request.headers.get(DEVICE_HEADER)
    step_up = request.headers.get(STEP_UP_HEADER)
    return EdgeSignals(
        device_id=device.strip()[:128] if device and device.strip() else None,
        ip=_address(request.client.host if request.client else None),
        consent=consent,
        behaviour=behaviour,
        step_up_id=step_up.strip()[:128] if step_up and step_up.strip() else None,
        notes=notes,
    )


def enforcement_setting(request: Request) -> Setting:
    """``app.state.risk_enforcement``, else ``REALNAME_RISK_ENFORCEMENT``, else ``auto``;
    an unrecognised value is ``auto`` too (never silently weaker than the default)."""
    configured = getattr(request.app.state, "risk_enforcement", None)
    value = configured if isinstance(configured, str) else os.environ.get(MODE_ENV, "auto")
    value = value.strip().lower()
    if value == "enforce":
        return "enforce"
    if value == "monitor":
        return "monitor"
    return "auto"


def tenant_sends_devices(session: Session, tenant_id: str) -> bool:
    """Whether any account of the tenant has a remembered device: its clients send
    ``X-Device-Id``, so a request without one is a stripped header, not an old client."""
    found = session.scalar(
        select(RiskDevice.id)
        .join(Account, Account.id == RiskDevice.account_id)
        .where(Account.tenant_id == tenant_id)
        .limit(1)
    )
    return found is not None


def resolve_mode(
    session: Session, tenant_id: str, edge: EdgeSignals, setting: Setting
) -> tuple[Mode, tuple[str, ...]]:
    """The mode for this request, and a note when ``auto`` chose to only monitor.

    ``auto`` enforces when the request carries device signals (a device id, even a
    malformed one, or a behaviour header) or when the tenant's clients have sent
    device ids before; it monitors a tenant whose integration sends none yet. The
    tenant-wide memory is what makes this safe: once a tenant sends devices, an
    attacker who strips the header is enforced against (and the missing device counts
    as unknown, never safe), instead of downgrading the check to monitoring.
    """
    if setting != "auto":
        return setting, ()
    if edge.device_id is not None or edge.behaviour is not None or edge.notes:
        return "enforce", ()
    if tenant_sends_devices(session, tenant_id):
        return "enforce", ()
    return "monitor", ("MONITOR_NO_DEVICE_SIGNALS",)


# --- the store's side ------------------------------------------------------------------


def device_hash(vault: Vault, device_id: str) -> str:
    return _keys.mac_hex(_keys.subkey(vault, "risk/device"), device_id)


def _bound_phone(session: Session, vault: Vault, account: Account) -> str | None:
    try:
        return read_account_phone(session, vault, account)
    except RealnameError:
        return None


def _id_number(session: Session, vault: Vault, account: Account) -> str | None:
    if account.person_id is None:
        return None
    try:
        return read_identity(session, vault, get_person(session, account.person_id)).get(
            "id_number"
        )
    except RealnameError:
        return None


def _sim_swap_recent(session: Session, account: Account, now: datetime) -> bool | None:
    latest = session.scalars(
        select(VerificationCheck)
        .where(
            VerificationCheck.account_id == account.id, VerificationCheck.check_kind == "sim_swap"
        )
        .order_by(VerificationCheck.created_at.desc())
        .limit(1)
    ).first()
    if latest is None or now - latest.created_at > SIM_SWAP_FRESH:
        return None
    return {"swapped": True, "not_swapped": False}.get(latest.outcome)


def _days_since_verification(session: Session, account: Account, now: datetime) -> float | None:
    last = session.scalar(
        select(func.max(VerificationResult.verified_at)).where(
            VerificationResult.account_id == account.id,
            VerificationResult.verified_at.is_not(None),
        )
    )
    if last is None:
        return None
    return round((now - last).total_seconds() / 86_400, 3)


def _velocity(
    session: Session,
    vault: Vault,
    account: Account,
    *,
    id_number: str | None,
    phone: str | None,
    device_id: str | None,
    ip: str | None,
    now: datetime,
) -> Velocity:
    """Attempts per key over the last hour and day, in one grouped query (one store
    round trip instead of two per key: the gate runs on every sensitive request)."""
    keys = attempt_keys(
        vault, account.tenant_id, id_number=id_number, phone=phone, device_id=device_id, ip=ip
    )
    if not keys:
        return Velocity()
    counts: dict[str, int] = {}
    for key in keys:
        counts[f"{key.kind.value}_1h"] = counts[f"{key.kind.value}_24h"] = 0
    last_hour = func.sum(case((AttemptEvent.at > now - timedelta(hours=1), 1), else_=0))
    rows = session.execute(
        select(AttemptEvent.key_kind, AttemptEvent.key_hash, last_hour, func.count())
        .where(
            AttemptEvent.tenant_id == account.tenant_id,
            or_(
                *(
                    and_(
                        AttemptEvent.key_kind == key.kind.value, AttemptEvent.key_hash == key.digest
                    )
                    for key in keys
                )
            ),
            AttemptEvent.at > now - timedelta(hours=24),
            AttemptEvent.at <= now,
        )
        .group_by(AttemptEvent.key_kind, AttemptEvent.key_hash)
    )
    wanted = {(key.kind.value, key.digest) for key in keys}
    for kind, digest, hour, day in rows:
        if (kind, digest) in wanted:
            counts[f"{kind}_1h"] = int(hour or 0)
            counts[f"{kind}_24h"] = int(day or 0)
    return Velocity.model_validate(counts)


def _known_devices(session: Session, account: Account) -> set[str]:
    return set(
        session.scalars(select(RiskDevice.device_hash).where(RiskDevice.account_id == account.id))
    )


def _other_people_on_device(session: Session, account: Account, digest: str) -> int:
    """How many *other people* (accounts of another person, in this tenant) acted
    from the device: the device graph every anti-fraud desk keeps. Another account
    of the same person is not counted; an account without a person counts as one."""
    someone = func.coalesce(Account.person_id, Account.id)
    query = (
        select(func.count(func.distinct(someone)))
        .select_from(RiskDevice)
        .join(Account, Account.id == RiskDevice.account_id)
        .where(
            RiskDevice.device_hash == digest,
            Account.tenant_id == account.tenant_id,
            Account.id != account.id,
        )
    )
    if account.person_id is not None:
        query = query.where(someone != account.person_id)
    return session.scalar(query) or 0


def gather(
    session: Session,
    vault: Vault,
    account: Account,
    action: Action,
    edge: EdgeSignals,
    now: datetime,
) -> Signals:
    """The :class:`Signals` of one request on ``account`` (unknown stays ``None``)."""
    device_id = Signals(action=action, device_id=edge.device_id).device_id  # format check
    known = _known_devices(session, account)
    digest = device_hash(vault, device_id) if device_id is not None else None
    phone = _bound_phone(session, vault, account)
    return Signals(
        action=action,
        device_id=device_id,
        device_known=None if digest is None else digest in known,
        device_count=len(known | ({digest} if digest else set())),
        device_other_people=(
            None if digest is None else _other_people_on_device(session, account, digest)
        ),
        ip=edge.ip,
        phone_home_province=phone_home_province(phone) if phone else None,
        sim_swap_recent=_sim_swap_recent(session, account, now),
        velocity=_velocity(
            session,
            vault,
            account,
            id_number=_id_number(session, vault, account),
            phone=phone,
            device_id=edge.device_id,
            ip=edge.ip,
            now=now,
        ),
        days_since_verification=_days_since_verification(session, account, now),
        consent=edge.consent,
        behaviour=edge.behaviour if edge.consent else None,
    )


def remember_device(
    session: Session, vault: Vault, account_id: str, device_id: str, now: datetime
) -> None:
    """Mark ``device_id`` as known for the account (idempotent, race-safe)."""
    digest = device_hash(vault, device_id)
    row = session.scalars(
        select(RiskDevice).where(
            RiskDevice.account_id == account_id, RiskDevice.device_hash == digest
        )
    ).first()
    if row is not None:
        row.last_seen_at = now
        return
    try:
        with session.begin_nested():
            session.add(
                RiskDevice(
                    id=new_id(),
                    account_id=account_id,
                    device_hash=digest,
                    first_seen_at=now,
                    last_seen_at=now,
                )
            )
    except IntegrityError:
        pass  # a parallel request remembered it first


# --- the persistent ledger -------------------------------------------------------------


def _hash(challenge_id: str) -> str:
    return hashlib.sha256(challenge_id.encode("utf-8")).hexdigest()


def _factors(values: list[str]) -> list[Factor]:
    return sorted({Factor(value) for value in values}, key=_FACTOR_ORDER.index)


class SqlStepUpLedger:
    """:class:`~realname.risk.ledger.StepUpLedger` in ``step_up_challenges``, per tenant.

    Nothing here commits; ``consume`` is one ``UPDATE … WHERE consumed_at IS NULL``.
    """

    def __init__(
        self, session: Session, tenant_id: str, now: datetime, ttl: timedelta = CHALLENGE_TTL
    ) -> None:
        self._session = session
        self._tenant_id = tenant_id
        self._now = now
        self._ttl = ttl

    def open(self, subject: str, decision: RiskDecision) -> str:
        challenge_id = secrets.token_urlsafe(24)
        self._session.add(
            StepUpChallenge(
                id_hash=_hash(challenge_id),
                tenant_id=self._tenant_id,
                account_id=subject,
                action=decision.action.value,
                factors=[factor.value for factor in decision.factors],
                passed=[],
                created_at=self._now,
                expires_at=self._now + self._ttl,
            )
        )
        self._session.flush()
        return challenge_id

    def get(self, challenge_id: str, *, for_update: bool = False) -> StepUpChallenge:
        """The open challenge; :class:`StepUpInvalid` if unknown, expired or used."""
        query = select(StepUpChallenge).where(
            StepUpChallenge.id_hash == _hash(challenge_id),
            StepUpChallenge.tenant_id == self._tenant_id,
        )
        row = self._session.scalars(query.with_for_update() if for_update else query).first()
        if row is None or row.consumed_at is not None or row.expires_at <= self._now:
            raise StepUpInvalid()
        return row

    @staticmethod
    def outstanding(row: StepUpChallenge) -> frozenset[Factor]:
        return frozenset(_factors(row.factors)) - frozenset(_factors(row.passed))

    def complete(self, challenge_id: str, factor: Factor) -> frozenset[Factor]:
        row = self.get(challenge_id, for_update=True)
        if factor.value not in row.factors:
            raise StepUpInvalid("That factor was not asked for.", factor=factor.value)
        row.passed = [f.value for f in _factors([*row.passed, factor.value])]
        left = self.outstanding(row)
        if not left and row.completed_at is None:
            row.completed_at = self._now
        self._session.flush()
        return left

    def consume(self, challenge_id: str, subject: str, action: Action) -> bool:
        result = cast(
            "CursorResult[Any]",
            self._session.execute(
                update(StepUpChallenge)
                .where(
                    StepUpChallenge.id_hash == _hash(challenge_id),
                    StepUpChallenge.tenant_id == self._tenant_id,
                    StepUpChallenge.account_id == subject,
                    StepUpChallenge.action == Action(action).value,
                    StepUpChallenge.completed_at.is_not(None),
                    StepUpChallenge.consumed_at.is_(None),
                    StepUpChallenge.expires_at > self._now,
                )
                .values(consumed_at=self._now)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount == 1


# --- the gate --------------------------------------------------------------------------


def reason_out(decision: RiskDecision) -> list[dict[str, Any]]:
    """Ranked reasons with their zh-CN and en text (highest contribution first)."""
    out: list[dict[str, Any]] = []
    for reason in decision.reasons:
        text: dict[str, str] = {}
        for language in _LANGUAGES:
            try:
                text[language] = explain(reason.code, language)
            except KeyError:
                text[language] = reason.code
        out.append(
            {"code": reason.code, "score": reason.score, "unknown": reason.unknown, "text": text}
        )
    return out


@dataclass(frozen=True)
class Gate:
    """What :func:`check_action` decided; ``refusal`` is raised after the commit."""

    decision: RiskDecision
    outcome: Outcome
    notes: tuple[str, ...]
    step_up_id: str | None = None
    refusal: RealnameError | None = None

    def raise_if_refused(self) -> None:
        if self.refusal is not None:
            raise self.refusal


def check_action(
    session: Session,
    vault: Vault,
    account: Account,
    action: Action,
    *,
    edge: EdgeSignals,
    mode: Mode,
    now: datetime,
) -> Gate:
    """Decide ``action`` for ``account``; open a challenge or use the presented grant.

    The caller commits (the challenge and the audit entry must survive the refusal)
    and then calls :meth:`Gate.raise_if_refused`.
    """
    signals = gather(session, vault, account, action, edge, now)
    decision = assess(action, signals)
    notes = tuple(dict.fromkeys((*edge.notes, *decision.notes)))
    ledger = SqlStepUpLedger(session, account.tenant_id, now)
    step_up_id: str | None = None
    refusal: RealnameError | None = None
    outcome: Outcome
    if mode == "enforce" and edge.step_up_id is not None:
        if ledger.consume(edge.step_up_id, account.id, action):
            outcome = "unlocked"
        else:
            outcome = "step_up_refused"
            refusal = StepUpInvalid(
                "The step-up is unknown, not completed, already used, or for another action."
            )
    elif mode == "enforce" and decision.step_up_required:
        outcome = "step_up"
        step_up_id = ledger.open(account.id, decision)
        refusal = StepUpRequired(
            step_up_id=step_up_id,
            action=action.value,
            factors=[factor.value for factor in decision.factors],
            step_up=[factor.value for factor in decision.step_up],
            score=round(decision.score),  # problem details carry ints, not floats
            reasons=reason_out(decision),
            notes=list(notes),
            expires_at=(now + CHALLENGE_TTL).isoformat(),
        )
    elif decision.step_up_required:
        outcome = "monitor_step_up"
    else:
        outcome = "allow"
    if outcome in ("allow", "unlocked") and signals.device_id is not None:
        remember_device(session, vault, account.id, signals.device_id, now)
    audit.append(
        session,
        f"tenant:{account.tenant_id}",
        "risk.decided",
        f"account:{account.id}",
        {
            "action": action.value,
            "mode": mode,
            "outcome": outcome,
            "score": decision.score,
            "reasons": [reason.code for reason in decision.reasons],
            "factors": [factor.value for factor in decision.factors],
            "step_up": [factor.value for factor in decision.step_up],
            "notes": list(notes),
        },
        at=now,
    )
    return Gate(decision, outcome, notes, step_up_id, refusal)


def guard(
    session: Session,
    vault: Vault,
    account: Account,
    action: Action,
    request: Request,
    now: datetime,
) -> Gate:
    """:func:`check_action` with the request's signals and the configured mode."""
    edge = edge_signals(request)
    mode, notes = resolve_mode(session, account.tenant_id, edge, enforcement_setting(request))
    return check_action(
        session,
        vault,
        account,
        action,
        edge=replace(edge, notes=(*edge.notes, *notes)),
        mode=mode,
        now=now,
    )


__all__ = [
    "BEHAVIOUR_HEADER",
    "DEVICE_HEADER",
    "STEP_UP_HEADER",
    "EdgeSignals",
    "Gate",
    "SqlStepUpLedger",
    "StepUpRequired",
    "check_action",
    "edge_signals",
    "enforcement_setting",
    "gather",
    "guard",
    "parse_behaviour",
    "reason_out",
    "remember_device",
    "resolve_mode",
    "tenant_sends_devices",
]
