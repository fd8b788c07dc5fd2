"""The verification service: intake, history, evidence, diagnosis, and what is stored.

This is the I/O shell around the pure core (:mod:`.intake`, :mod:`.planner`,
:mod:`.diagnosis`): it reads the platform's history of the account and the identity
from the store, asks the authorities through the orchestrator, and writes back the
encrypted elements, every check (with its cost in fen), the result with its causes,
and an audit entry — all in the caller's transaction, so nothing is stored half-way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from realname.accounts.linking import linked_accounts
from realname.authorities.protocol import Provider
from realname.credentials.lifecycle import revoke_account_credentials
from realname.credentials.status_list import RevokeReason
from realname.privacy.vault import Vault
from realname.store import group_commit
from realname.store.models import Account, VerificationResult
from realname.store.repositories import audit
from realname.store.repositories.checks import (
    CauseRecord,
    CheckRecordRow,
    PastResult,
    StoredResult,
    cause_codes,
    past_results,
    record_checks,
    record_result,
)
from realname.store.repositories.people import (
    PersonKey,
    StoredElement,
    add_identity_elements,
    canonical_value,
    current_elements,
    holder_ids,
    person_key,
    read_element,
)
from realname.store.tables import table_of
from realname.verification.diagnosis import Diagnosis, accepted_name, diagnose
from realname.verification.evidence import (
    Evidence,
    History,
    OtherAccount,
    Possession,
    PriorVerification,
    Submission,
)
from realname.verification.intake import RawSubmission, prepare
from realname.verification.levels import Level
from realname.verification.orchestrator import CheckRecord, gather_evidence
from realname.verification.policy import ProductPolicy
from realname.verification.turns import finishing_turn
from realname.webhooks.outbox import enqueue_status_changed, status_subscribers

#: Account status while a re-issued number locks sensitive actions (DESIGN §4).
LOCKED_RECYCLED = "locked_recycled"


@dataclass(frozen=True)
class VerificationOutcome:
    diagnosis: Diagnosis
    records: tuple[CheckRecord, ...]
    result_id: str
    #: What was stored, as plain data: the status answering the submission is built
    #: from it without reading the row back.
    result: StoredResult | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def cost_fen(self) -> int:
        return sum(record.cost_fen for record in self.records)

    @property
    def rounds(self) -> int:
        return max((record.round for record in self.records), default=0)


#: Built once: every verification that finds other holders of the ID number asks it.
_OTHER_ACCOUNTS_LEVELS = (
    select(table_of(VerificationResult).c.account_id, table_of(VerificationResult).c.level_reached)
    .join(table_of(Account), table_of(Account).c.id == table_of(VerificationResult).c.account_id)
    .where(
        table_of(Account).c.person_id.in_(bindparam("people", expanding=True)),
        table_of(Account).c.id != bindparam("account_id"),
    )
)


def load_history(
    session: Session,
    vault: Vault,
    account: Account,
    submission: Submission,
    results: list[PastResult] | None = None,
) -> History:
    """What the platform already knows: this account's past, and the identity's.

    ``results`` are the account's results from :func:`past_results` when the caller
    has read them already.
    """
    if results is None:
        results = past_results(session, account.id)
    prior = None
    phone_index = vault.blind_index("phone", submission.phone) if submission.phone else None
    for result in results:
        if Level.parse(result.level_reached) >= Level.L2 and result.bound_phone_index:
            verified_at = result.verified_at or result.created_at
            prior = PriorVerification(
                same_phone=result.bound_phone_index == phone_index,
                verified_on=verified_at.date(),
                level=Level.parse(result.level_reached),
            )
            break
    others: list[OtherAccount] = []
    if submission.id_number is not None:
        people = [
            person_id
            for person_id in holder_ids(
                session, vault, account.tenant_id, "id_number", submission.id_number
            )
            if person_id != account.person_id
        ]
        if people:
            rows = session.execute(
                _OTHER_ACCOUNTS_LEVELS, {"people": people, "account_id": account.id}
            )
            best: dict[str, Level] = {}
            for other_id, reached in rows:
                best[other_id] = max(best.get(other_id, Level.L0), Level.parse(reached))
            linked = set(linked_accounts(session, account.id))
            others = [
                OtherAccount(account_id=other_id, level=level, controlled=other_id in linked)
                for other_id, level in sorted(best.items())
                if level >= Level.L1
            ]
    return History(prior=prior, others=tuple(others))


def _store_elements(
    session: Session,
    vault: Vault,
    person: PersonKey,
    current: Mapping[str, StoredElement],
    submission: Submission,
    name: str | None,
) -> None:
    """Store the submitted elements that differ from the person's ``current`` ones."""
    values = {
        "name": name or submission.name,
        "id_number": submission.id_number,
        "phone": submission.phone,
        "bank_card": submission.bank_card,
    }
    changed = {
        kind: value
        for kind, value in values.items()
        if value is not None and not _unchanged(vault, person, current.get(kind), kind, value)
    }
    add_identity_elements(session, vault, person, changed, current=current.values())


def _unchanged(
    vault: Vault, person: PersonKey, element: StoredElement | None, kind: str, value: str
) -> bool:
    """The person's current element of ``kind`` already holds ``value``: nothing to write."""
    if element is None:
        return False
    if element.blind_index is not None:
        return element.blind_index == vault.blind_index(kind, canonical_value(kind, value))
    return read_element(vault, person, element) == canonical_value(kind, value)


def _record_checks(session: Session, account: Account, records: list[CheckRecord]) -> None:
    """Each authority call as answered, or as unavailable (nothing billed, no answer)."""
    rows = []
    for record in records:
        answer, unavailable = record.answer, record.unavailable
        raw_code: str | None
        request_id: str | None
        if answer is not None:
            provider, raw_code, request_id = answer.provider, answer.code, answer.request_id
            message, billable = answer.message, answer.billable
            cost_fen, latency_ms = answer.cost_fen, answer.latency_ms
        elif unavailable is not None:
            provider, raw_code = unavailable.provider, unavailable.raw_code
            request_id, message, billable = unavailable.request_id, None, False
            cost_fen = latency_ms = 0
        else:
            continue
        rows.append(
            CheckRecordRow(
                tenant_id=account.tenant_id,
                account_id=account.id,
                check_kind=record.check.value,
                provider=provider,
                outcome=record.outcome,
                raw_code=raw_code,
                raw_message=message,
                provider_request_id=request_id,
                billable=billable,
                cost_fen=cost_fen,
                latency_ms=latency_ms,
            )
        )
    record_checks(session, rows)


async def verify(
    session: Session,
    vault: Vault,
    provider: Provider,
    account: Account,
    raw: RawSubmission,
    *,
    policy: ProductPolicy,
    possession: Possession,
    now: datetime,
    locked_until: datetime | None = None,
) -> VerificationOutcome:
    """Verify what the user submitted for ``account`` against ``policy``; store it all.

    ``locked_until`` is an attempt-limit lock in force (ATTEMPTS_LOCKED): nothing is
    asked of any authority, and the result says until when.

    The session's transaction is committed after the history is read and before the
    authorities are asked: no connection, lock or snapshot is held for the seconds
    they may take (with many flows in flight that would exhaust the pool and, on
    SQLite, block every writer). What is written afterwards is the caller's to commit.
    Everything that transaction needs to read is read before, with the history, so it
    only writes: on SQLite it holds the one write lock of the database, and the
    shorter it is, the less other writers (other API processes) wait. The person's
    current elements are compared with that snapshot: a submission made meanwhile for
    the same person is superseded by this one, as if it had come first.
    """
    today = now.date()
    submission, local_errors = prepare(raw, today)
    results = past_results(session, account.id)
    history = load_history(session, vault, account, submission, results)
    if locked_until is not None:
        history = dataclasses.replace(history, locked_until=locked_until)
    previous = results[0] if results else None  # the latest result
    previous_state = (
        (previous.level_reached, cause_codes(session, previous.id)) if previous else None
    )
    person = person_key(session, account.person_id) if account.person_id else None
    current = (
        {element.kind: element for element in current_elements(session, person)}
        if person is not None
        else {}
    )
    subscribers = status_subscribers(session, account.tenant_id)
    session.commit()
    evidence = Evidence(
        policy=policy,
        today=today,
        submission=submission,
        local_errors=local_errors,
        history=history,
        possession=possession,
    )
    evidence, records = await gather_evidence(evidence, provider)
    # What starts asking an authority goes first (turns.py); the verifications that
    # finish together write together, when the caller allows (group_commit).
    more_follow = await finishing_turn()
    group_commit.join(session, last=not more_follow)
    diagnosis = diagnose(evidence, now=now)

    if person is not None:
        _store_elements(session, vault, person, current, submission, accepted_name(evidence))
    _record_checks(session, account, records)
    bound = diagnosis.level >= Level.L2 and submission.phone is not None
    result = record_result(
        session,
        account_id=account.id,
        level_reached=str(diagnosis.level),
        level_needed=str(diagnosis.needed),
        causes=[
            CauseRecord(code=c.code.value, severity=c.severity.value, details=c.params)
            for c in diagnosis.causes
        ],
        bound_phone_index=vault.blind_index("phone", submission.phone)
        if bound and submission.phone
        else None,
        product=policy.name,
        verified_at=now if diagnosis.level >= Level.L1 else None,
    )
    if "PHONE_RECYCLED" in diagnosis.codes:
        account.status = LOCKED_RECYCLED
        # Credentials vouched for a phone someone else now holds: partners must stop
        # accepting them (status list + ledger event), DESIGN §7.
        revoke_account_credentials(session, account.id, RevokeReason.PHONE_REISSUED, now)
    elif account.status == LOCKED_RECYCLED and diagnosis.level >= Level.L2:
        # The owner re-verified through a channel they hold: sensitive actions reopen.
        account.status = "active"
    if previous_state != (str(diagnosis.level), diagnosis.codes):
        # Outbox: the deliveries commit with the result, or not at all.
        enqueue_status_changed(
            session,
            account.tenant_id,
            account.id,
            str(diagnosis.level),
            str(diagnosis.needed),
            diagnosis.codes,
            previous_state[0] if previous_state else None,
            subscribed=subscribers,
        )
    audit.append(
        session,
        "system:verification",
        "verification.completed",
        f"account:{account.id}",
        {
            "result_id": result.id,
            "level": str(diagnosis.level),
            "needed": str(diagnosis.needed),
            "causes": diagnosis.codes,
            "cost_fen": sum(record.cost_fen for record in records),
        },
    )
    return VerificationOutcome(
        diagnosis=diagnosis, records=tuple(records), result_id=result.id, result=result
    )
