"""One account as support and reviewers see it: masked, with its whole history.

What a support agent needs to answer "why does it still say 未实名认证?" in one
screen: the level reached and needed (with reviewers' decisions applied, exactly as
the borrower sees it), every cause in plain words, every check with the authority's
raw answer, the results over time, the phone bindings and the review cases. Personal
data is masked with :mod:`realname.identity.masking`; nothing here is shown clear.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from realname.identity import masking
from realname.ops.config import get_config
from realname.privacy.vault import DataErased, DecryptionFailed, Vault
from realname.store.models import Account, Person, PhoneBinding, ReviewCase, VerificationResult
from realname.store.repositories.bindings import list_bindings
from realname.store.repositories.checks import latest_result, list_checks
from realname.store.repositories.people import read_account_phone, read_identity
from realname.verification import users
from realname.verification.catalogue import Language, get_catalogue

MASKS = {
    "name": masking.mask_name,
    "id_number": masking.mask_id_number,
    "phone": masking.mask_phone,
    "bank_card": masking.mask_bank_card,
}
ERASED = "（已删除）"
#: Check kinds the catalogue's vocabulary has no word for (as on the borrower pages).
EXTRA_CHECK_WORDS: dict[Language, dict[str, str]] = {
    "zh-CN": {"sim_swap": "近期换卡查询"},
    "en": {"sim_swap": "recent SIM swap check"},
}


@dataclass(frozen=True)
class AccountFile:
    account_id: str
    tenant_id: str
    status: str
    created_at: datetime
    #: element kind -> masked value (name, id_number, phone, bank_card, login_phone)
    masked: dict[str, str]
    level: str | None
    needed: str | None
    verified: bool
    causes: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    results: list[dict[str, Any]]
    bindings: list[dict[str, Any]]
    cases: list[dict[str, Any]] = field(default_factory=list)


def clear_values(session: Session, vault: Vault, account: Account) -> dict[str, str]:
    """The account's current elements and login phone, decrypted (for an audited unmask)."""
    values: dict[str, str] = {}
    if account.person_id is not None:
        person = session.get(Person, account.person_id)
        if person is not None:
            with contextlib.suppress(DataErased, DecryptionFailed):
                values.update(read_identity(session, vault, person))
    with contextlib.suppress(DataErased, DecryptionFailed):
        values["login_phone"] = read_account_phone(session, vault, account)
    return values


def masked_values(clear: dict[str, str]) -> dict[str, str]:
    return {
        kind: MASKS["phone" if kind == "login_phone" else kind](value)
        for kind, value in clear.items()
        if kind in MASKS or kind == "login_phone"
    }


def _binding(vault: Vault, session: Session, account: Account, row: PhoneBinding) -> dict[str, Any]:
    phone = "—"
    if row.phone_ciphertext is not None and account.person_id is not None:
        person = session.get(Person, account.person_id)
        try:
            if person is not None:
                phone = masking.mask_phone(
                    vault.decrypt(
                        person,
                        row.phone_ciphertext,
                        table=PhoneBinding.__tablename__,
                        row_id=row.id,
                        field="phone",
                    )
                )
        except (DataErased, DecryptionFailed):
            phone = ERASED
    return {
        "phone": phone,
        "reason": row.reason,
        "bound_at": row.bound_at,
        "unbound_at": row.unbound_at,
    }


def account_file(
    session: Session, vault: Vault, account: Account, language: Language
) -> AccountFile:
    """Everything about ``account`` that support may see, masked."""
    catalogue = get_catalogue()
    config = get_config()
    level = needed = None
    verified = False
    causes: list[dict[str, Any]] = []
    if latest_result(session, account.id) is not None:
        view = users.status(session, account, language)
        level, needed, verified, causes = view.level, view.needed, view.verified, view.causes
    checks = [
        {
            "kind": check.check_kind,
            "label": EXTRA_CHECK_WORDS[language].get(check.check_kind)
            or catalogue.word("check", check.check_kind, language),
            "provider": check.provider,
            "outcome": check.outcome,
            "raw_code": check.raw_code,
            "raw_message": check.raw_message,
            "request_id": check.provider_request_id,
            "billable": check.billable,
            "cost_fen": check.cost_fen,
            "latency_ms": check.latency_ms,
            "at": check.created_at,
        }
        for check in list_checks(session, account.id)
    ]
    results = [
        {
            "at": result.created_at,
            "level": result.level_reached,
            "needed": result.level_needed,
            "codes": [cause.code for cause in result.causes],
        }
        for result in session.scalars(
            select(VerificationResult)
            .where(VerificationResult.account_id == account.id)
            .options(selectinload(VerificationResult.causes))
            .order_by(VerificationResult.created_at.desc(), VerificationResult.id.desc())
        )
    ]
    cases = [
        {
            "id": case.id,
            "reason": config.reason_label(case.reason, language),
            "state": case.state,
            "decision": case.decision,
            "code": config.code_label(case.decision_code, language) if case.decision_code else None,
            "opened_at": case.opened_at,
            "decided_at": case.decided_at,
        }
        for case in session.scalars(
            select(ReviewCase)
            .where(ReviewCase.account_id == account.id)
            .order_by(ReviewCase.opened_at.desc())
        )
    ]
    return AccountFile(
        account_id=account.id,
        tenant_id=account.tenant_id,
        status=account.status,
        created_at=account.created_at,
        masked=masked_values(clear_values(session, vault, account)),
        level=level,
        needed=needed,
        verified=verified,
        causes=causes,
        checks=checks,
        results=results,
        bindings=[
            _binding(vault, session, account, row) for row in list_bindings(session, account.id)
        ],
        cases=cases,
    )


__all__ = ["AccountFile", "account_file", "clear_values", "masked_values"]
