"""Unmasking: a reviewer sees clear personal data only with a written, audited reason.

PIPL Art. 51 asks for access control and minimal exposure of personal data. The
clear values are returned to the one response that asked and never stored; the
audit entry records who, which case, which kinds of data and why — not the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from realname.ops.accountfile import clear_values
from realname.ops.cases import get_case, require_role
from realname.ops.config import get_config
from realname.ops.errors import UnmaskReasonRequired
from realname.ops.operators import DECIDERS, Principal
from realname.privacy.vault import Vault
from realname.store.models import Account
from realname.store.repositories import audit

MAX_REASON = 500


@dataclass(frozen=True)
class Unmasked:
    values: dict[str, str]
    audit_seq: int


def unmask(
    session: Session,
    vault: Vault,
    principal: Principal,
    case_id: str,
    *,
    reason: str,
    now: datetime,
) -> Unmasked:
    """The clear values of the case's account, after auditing who asked and why."""
    require_role(principal, DECIDERS)
    written = " ".join(reason.split())
    minimum = get_config().unmask_min_reason
    if len(written) < minimum:
        raise UnmaskReasonRequired(minimum=minimum)
    case = get_case(session, case_id)
    account = session.get(Account, case.account_id)
    values = clear_values(session, vault, account) if account is not None else {}
    entry = audit.append(
        session,
        principal.actor,
        "ops.unmasked",
        f"review_case:{case.id}",
        {
            "account_id": case.account_id,
            "fields": sorted(values),
            "reason": written[:MAX_REASON],
        },
        at=now,
    )
    return Unmasked(values=values, audit_seq=entry.seq)
