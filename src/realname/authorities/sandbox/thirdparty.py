"""The sandbox's 社保 and 公积金 records, derived from a citizen's ID number and a seed.

No table holds them: a keyed hash of the ID number seeds a generator, so the same
citizen always has the same records and a generated world of any size gets them for
free. Distributions are rough shapes of urban China: about 70 % of adults contribute
to social security, fewer than half of those also pay into the housing fund; bases
are log-normal around ¥6,000 a month within ¥3,000–¥30,000. Citizens the store does
not know have no records.
"""

from __future__ import annotations

import hashlib
import math
import random

from realname.authorities.sandbox.store import SandboxStore
from realname.authorities.thirdparty import (
    WINDOW_MONTHS,
    ContributionRecord,
    ThirdPartyRecords,
)

NO_RECORDS = ThirdPartyRecords(social_security=None, housing_fund=None)


def derive_records(id_number: str, seed: int = 0) -> ThirdPartyRecords:
    """Deterministic records for one ID number (the sandbox's ground truth)."""
    digest = hashlib.sha256(f"thirdparty:{seed}:{id_number}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation
    if rng.random() >= 0.70:
        return NO_RECORDS
    base = int(min(max(rng.lognormvariate(math.log(6_000), 0.45), 3_000), 30_000)) * 100
    months = WINDOW_MONTHS if rng.random() < 0.6 else rng.randint(1, WINDOW_MONTHS - 1)
    continuity = min(months, int(rng.expovariate(1 / 20)) + 1)
    social = ContributionRecord(months, continuity, base)
    housing = None
    if rng.random() < 0.45:
        # The housing fund follows the same employer, often on a slightly lower base.
        housing_months = max(1, months - rng.randint(0, 6))
        housing = ContributionRecord(
            months_paid=housing_months,
            employer_continuity_months=min(continuity, housing_months),
            base_fen=int(base * rng.uniform(0.8, 1.0)) // 100 * 100,
        )
    return ThirdPartyRecords(social_security=social, housing_fund=housing)


class SandboxThirdParty:
    """Answers for the citizens of one world of a :class:`SandboxStore`."""

    name = "sandbox"

    def __init__(self, store: SandboxStore, world: str, *, seed: int = 0) -> None:
        self.store = store
        self.world_id = store.world_id(world)
        self.seed = seed

    def records(self, id_number: str) -> ThirdPartyRecords:
        if self.store.citizen_by_id_number(self.world_id, id_number) is None:
            return NO_RECORDS
        return derive_records(id_number, self.seed)
