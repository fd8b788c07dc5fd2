"""The in-process sandbox provider: the protocol answered from a sandbox world.

It answers as the real services do — their result codes and descriptions (see
:mod:`realname.authorities.codes`), their detail fields and nothing else — from the
registry rows of one world. What an authority would not say, it does not say: a
carrier three-element mismatch names which submitted element disagrees with the
number's registration, never whose number it is; a bank answers with a card status
code, never the reserved phone.

Around each call it applies, in this order, what the real services impose: the
per-API QPS quota (Tencent ``RequestLimitExceeded``), injected faults (timeout,
server error, busy), the latency of the call, per-person daily limits, and billing
(only codes the vendor documents as billable cost money).

Where the sandbox has to decide something the vendors do not document, the choice
is stated at the method that makes it.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from stdnum import luhn

from realname.authorities import codes
from realname.authorities.codes import API_SPECS, FACE_SIMILARITY_THRESHOLD, ApiSpec, Vendor
from realname.authorities.errors import FaceEngineMissing, ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    Answer,
    BankCardAnswer,
    Carrier,
    CarrierLookupAnswer,
    CarrierMismatch,
    CarrierThreeElementAnswer,
    Check,
    FaceCapture,
    FaceCompareAnswer,
    FaceEngine,
    FaceLivenessAnswer,
    FaceQualityIssue,
    IdTwoElementAnswer,
    IdValidityAnswer,
    IdValidityOutcome,
    PhoneRecycledAnswer,
    PhoneStatusAnswer,
    PhoneTenureAnswer,
    SimSwapAnswer,
    SimSwapOutcome,
    TenureBucket,
    parse_tenure_range,
)
from realname.authorities.sandbox.config import (
    Clock,
    FaultKind,
    FaultPlan,
    FixedClock,
    SandboxConfig,
    SystemClock,
)
from realname.authorities.sandbox.fixtures import Scenario, write_scenario
from realname.authorities.sandbox.store import CitizenRow, SandboxStore
from realname.identity import bank_card as bank_card_ids
from realname.identity import id_number as id_numbers
from realname.identity import name as names
from realname.identity import phone as phones
from realname.identity.errors import IdentityError

AnswerT = TypeVar("AnswerT", bound=Answer)

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_DIGITS = re.compile(r"[0-9]{12,19}")
_ID18 = re.compile(r"[0-9]{17}[0-9Xx]")

#: MobileStatus.StatusCode for each sandbox phone status.
_STATUS_CODES = {"normal": 0, "suspended": 1, "cancelled": 2, "nonexistent": 4}
#: Phone statuses under which the carrier holds no live registration for the number.
_GONE = frozenset({"cancelled", "nonexistent"})
#: BankCard4EVerification result code for each card state of the fixture format.
_CARD_STATE_CODES = {
    "lost": "-13",
    "expired": "-14",
    # A frozen (冻结) card is declined by its issuer as a restricted card.
    "frozen": "-15",
    "dormant": "-11",
    "no_cardless": "-7",
}
_FAULT_REASONS = {
    FaultKind.TIMEOUT: UnavailableReason.TIMEOUT,
    FaultKind.SERVER_ERROR: UnavailableReason.SERVER_ERROR,
    FaultKind.BUSY: UnavailableReason.BUSY,
    FaultKind.DAILY_LIMIT: UnavailableReason.DAILY_LIMIT,
}
_QUALITY_CODES = {
    FaceQualityIssue.NO_FACE: "FailedOperation.LifePhotoDetectNoFaces",
    FaceQualityIssue.MULTIPLE_FACES: "FailedOperation.LifePhotoDetectFaces",
    FaceQualityIssue.POOR_QUALITY: "FailedOperation.LifePhotoPoorQuality",
}


# ------------------------------------------------------------------ quotas and limits


class QuotaGate:
    """Per-API requests-per-second quotas over a sliding one-second window."""

    def __init__(self, quotas: Mapping[Check, int]) -> None:
        self._quotas = quotas
        self._calls: dict[Check, deque[float]] = {}

    def admit(self, check: Check, now: float) -> bool:
        limit = self._quotas.get(check)
        if limit is None:
            return True
        window = self._calls.setdefault(check, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        return True


class DailyCounter:
    """Calls per check, input field and value, per calendar day."""

    def __init__(self, limits: Mapping[Check, Mapping[str, int]]) -> None:
        self._limits = limits
        self._day: date | None = None
        self._counts: dict[tuple[Check, str, str], int] = {}

    def admit(self, check: Check, keys: Mapping[str, str], today: date) -> bool:
        limits = self._limits.get(check)
        if not limits:
            return True
        if today != self._day:
            self._day = today
            self._counts.clear()
        allowed = True
        for field_name, limit in limits.items():
            value = keys.get(field_name)
            if value is None:
                continue
            key = (check, field_name, value)
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            if count > limit:
                allowed = False
        return allowed


@dataclass
class CheckUsage:
    calls: int = 0
    answered: int = 0
    billable: int = 0
    unavailable: int = 0
    cost_fen: int = 0


@dataclass
class BillingLedger:
    """What a provider's calls cost, per check (for cost reports and benchmarks)."""

    usage: dict[Check, CheckUsage] = field(default_factory=dict)

    def of(self, check: Check) -> CheckUsage:
        return self.usage.setdefault(check, CheckUsage())

    @property
    def total_fen(self) -> int:
        return sum(item.cost_fen for item in self.usage.values())


# -------------------------------------------------------------------------- helpers


def _months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (0 when ``end`` is not later)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(months, 0)


#: Whether the block of a number is an MVNO (virtual operator) block, by the first
#: four digits: blocks are three or four digits long, so that is enough.
_VIRTUAL_BY_PREFIX: dict[str, bool] = {}


def _is_virtual(number: str) -> bool:
    prefix = number[:4]
    known = _VIRTUAL_BY_PREFIX.get(prefix)
    if known is None:
        try:
            known = phones.parse(number).is_virtual
        except IdentityError:
            known = False
        _VIRTUAL_BY_PREFIX[prefix] = known
    return known


# ------------------------------------------------------------------------- provider


class SandboxProvider:
    """The protocol answered from one world of a :class:`SandboxStore`."""

    name = "sandbox"

    def __init__(
        self,
        store: SandboxStore,
        world: str,
        *,
        clock: Clock | None = None,
        config: SandboxConfig | None = None,
        faults: FaultPlan | None = None,
        face_engine: FaceEngine | None = None,
    ) -> None:
        self.store = store
        self.world = world
        self.world_id = store.world_id(world)
        self.config = config or SandboxConfig()
        # A world remembers the day it was made for; without a clock, that day holds.
        world_today = store.world_today(world)
        self.clock: Clock = clock or (
            FixedClock(world_today) if world_today is not None else SystemClock()
        )
        self.faults = faults or FaultPlan()
        self.face_engine = face_engine
        self.ledger = BillingLedger()
        # Latency draws, random faults and request ids are seeded, so a run repeats.
        self._rng = random.Random(self.config.seed)  # noqa: S311 - simulation, not security
        self._quota = QuotaGate(self.config.quotas)
        self._daily = DailyCounter(self.config.daily_limits)

    @classmethod
    def for_scenario(
        cls,
        scenario: Scenario,
        *,
        today: date,
        store: SandboxStore | None = None,
        config: SandboxConfig | None = None,
        face_engine: FaceEngine | None = None,
        clock: Clock | None = None,
    ) -> SandboxProvider:
        """A provider for one fixture scenario: its registry, its faults, its day.

        The scenario is written to ``store`` (a fresh in-memory store by default) as
        the world named after the scenario; its ``faults`` are forced on every call
        of their check; the clock (``FixedClock(today)`` unless given) stands at
        ``today``.
        """
        store = store if store is not None else SandboxStore(":memory:")
        with store.transaction():
            write_scenario(store, scenario, today=today)
        faults = FaultPlan(forced={fault.check: fault.kind for fault in scenario.faults})
        return cls(
            store,
            scenario.id,
            clock=clock or FixedClock(today),
            config=config,
            faults=faults,
            face_engine=face_engine,
        )

    # ------------------------------------------------------------------ the pipeline

    def _request_id(self, vendor: Vendor) -> str:
        text = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        # Tencent writes request ids in lower case, Alibaba in upper case.
        return text.upper() if vendor is Vendor.ALIBABA else text

    def _unavailable(
        self, spec: ApiSpec[Any], reason: UnavailableReason, *, reached: bool = True
    ) -> ProviderUnavailable:
        self.ledger.of(spec.check).unavailable += 1
        return ProviderUnavailable(
            spec.check,
            reason,
            provider=self.name,
            raw_code=spec.code_for(reason) if reached else None,
            request_id=self._request_id(spec.vendor) if reached else None,
        )

    async def _begin(self, check: Check, keys: Mapping[str, str]) -> tuple[float, str]:
        """Quota, faults, latency and daily limits; returns (start, request id)."""
        spec = API_SPECS[check]
        start = time.perf_counter()
        self.ledger.of(check).calls += 1
        if not self._quota.admit(check, self.clock.monotonic()):
            raise self._unavailable(spec, UnavailableReason.RATE_LIMITED)
        fault = self.faults.draw(check, self._rng)
        if fault is FaultKind.TIMEOUT:
            if self.config.timeout_ms > 0:
                await asyncio.sleep(self.config.timeout_ms / 1000)
            raise self._unavailable(spec, UnavailableReason.TIMEOUT, reached=False)
        latency = self.config.latency_for(check).sample(self._rng)
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        if fault is not None:
            raise self._unavailable(spec, _FAULT_REASONS[fault])
        if not self._daily.admit(check, keys, self.clock.today()):
            raise self._unavailable(spec, UnavailableReason.DAILY_LIMIT)
        return start, self._request_id(spec.vendor)

    def _answer(
        self,
        answer_type: type[AnswerT],
        spec: ApiSpec[Any],
        code: str,
        begun: tuple[float, str],
        **fields: Any,
    ) -> AnswerT:
        meaning = spec.meaning(code)
        if not meaning.is_answer:  # pragma: no cover - the sandbox only answers answers
            raise self._unavailable(spec, meaning.unavailable or UnavailableReason.SERVER_ERROR)
        start, request_id = begun
        cost = self.config.prices_fen.get(spec.check, 0) if meaning.billable else 0
        usage = self.ledger.of(spec.check)
        usage.answered += 1
        usage.billable += meaning.billable
        usage.cost_fen += cost
        fields.setdefault("outcome", meaning.outcome)
        if meaning.invalid_element is not None:
            fields.setdefault("invalid_element", meaning.invalid_element)
        return answer_type(
            provider=self.name,
            code=code,
            message=meaning.message,
            request_id=request_id,
            billable=meaning.billable,
            cost_fen=cost,
            latency_ms=round((time.perf_counter() - start) * 1000),
            **fields,
        )

    # ---------------------------------------------------------------- input checks

    def _id_number(self, value: str) -> str | None:
        """The 18-character form of a well-formed ID number, else ``None``.

        Like the real services the sandbox takes only 18-character numbers (a
        15-digit number is upgraded by the platform before it asks); a lower-case
        ``x`` is read as ``X``.
        """
        # Submitted numbers are nearly always already compact; skip stdnum's cleaning
        # for them (the bulk of a check's CPU time otherwise).
        compact = value.upper() if _ID18.fullmatch(value) else id_numbers.compact(value)
        if len(compact) != 18:
            return None
        try:
            return id_numbers.validate(compact, today=self.clock.today())
        except IdentityError:
            return None

    @staticmethod
    def _name_ok(value: str) -> bool:
        return names.is_valid(value)

    @staticmethod
    def _phone_ok(value: str) -> bool:
        return _MOBILE.fullmatch(value) is not None

    def _citizen(self, citizen_id: int | None) -> CitizenRow | None:
        return None if citizen_id is None else self.store.citizen(self.world_id, citizen_id)

    # -------------------------------------------------------------------- the checks

    async def id_two_element(self, name: str, id_number: str) -> IdTwoElementAnswer:
        """``IdCardVerification``: the registry compares the name exactly as given."""
        spec = codes.ID_CARD_VERIFICATION
        begun = await self._begin(spec.check, {"name": name, "id_number": id_number})
        number = self._id_number(id_number)
        if number is None:
            code = "-2"
        elif not self._name_ok(name):
            code = "-3"
        else:
            citizen = self.store.citizen_by_id_number(self.world_id, number)
            code = "-5" if citizen is None else "0" if citizen.name == name else "-1"
        return self._answer(IdTwoElementAnswer, spec, code, begun)

    async def id_validity(
        self,
        name: str,
        id_number: str,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IdValidityAnswer:
        """``CheckIdNameDate``.

        With validity dates, the registry's end date must equal ``valid_until``
        (``None`` = long-term) or the answer is "-1"; the sandbox does not record
        start dates, so ``valid_from`` is only checked to precede ``valid_until``.
        Without dates (which the real API does not allow) the sandbox answers from
        the card it holds. Either way "0" is read as ``EXPIRED`` when the card's end
        date lies before today.
        """
        spec = codes.CHECK_ID_NAME_DATE
        begun = await self._begin(spec.check, {"name": name, "id_number": id_number})
        number = self._id_number(id_number)
        dates_given = valid_from is not None or valid_until is not None
        citizen = None
        if number is None:
            code = "-2"
        elif not self._name_ok(name):
            code = "-3"
        elif valid_from is not None and valid_until is not None and valid_from >= valid_until:
            code = "-4"
        else:
            citizen = self.store.citizen_by_id_number(self.world_id, number)
            if citizen is None:
                code = "-7"
            elif citizen.name != name or (dates_given and citizen.valid_until != valid_until):
                code = "-1"
            else:
                code = "0"
        if code == "0" and citizen is not None:
            expired = citizen.valid_until is not None and citizen.valid_until < self.clock.today()
            outcome = IdValidityOutcome.EXPIRED if expired else IdValidityOutcome.VALID
            return self._answer(IdValidityAnswer, spec, code, begun, outcome=outcome)
        return self._answer(IdValidityAnswer, spec, code, begun)

    async def carrier_three_element(
        self, name: str, id_number: str, phone: str, *, carrier: Carrier | None = None
    ) -> CarrierThreeElementAnswer:
        """``PhoneVerification`` (详版).

        "-9" (没有记录) for a number with no live real-name registration: unknown,
        cancelled, nonexistent, or never registered — and for a ported number asked
        of the carrier it left (``carrier``, or the number block's carrier when
        ``None``): that carrier no longer holds its registration. A suspended number
        keeps its registration and is compared as usual. MVNO blocks answer "-13".
        On a mismatch ``mismatch`` says which submitted element differs from the
        registration; the registration itself is never returned.
        """
        spec = codes.PHONE_VERIFICATION
        begun = await self._begin(
            spec.check, {"name": name, "id_number": id_number, "phone": phone}
        )
        number = self._id_number(id_number)
        mismatch: CarrierMismatch | None = None
        asked: str | None = None
        if not self._phone_ok(phone):
            code = "-6"
        elif number is None:
            code = "-7"
        elif not self._name_ok(name):
            code = "-8"
        elif _is_virtual(phone):
            code = "-13"
        else:
            row = self.store.phone(self.world_id, phone)
            owner = None
            if carrier is not None:
                asked = carrier.value
            elif row is not None:
                # Routed by number block: the block's carrier is the one a ported
                # number left (fixtures check ``carrier``/``ported_from`` against it).
                asked = row.ported_from or row.carrier
            else:
                asked = phones.get_carrier(phone)
            if row is not None and row.carrier == asked and row.status not in _GONE:
                owner = self._citizen(row.owner_id)
            if owner is None:
                code = "-9"
            else:
                name_ok = owner.name == name
                id_ok = owner.id_number == number
                if name_ok and id_ok:
                    code = "0"
                else:
                    code = "-4"
                    if name_ok:
                        mismatch = CarrierMismatch.ID_NUMBER
                    elif id_ok:
                        mismatch = CarrierMismatch.NAME
                    else:
                        mismatch = CarrierMismatch.NAME_AND_ID_NUMBER
        return self._answer(
            CarrierThreeElementAnswer,
            spec,
            code,
            begun,
            mismatch=mismatch,
            carrier=Carrier(asked) if asked is not None and code in ("0", "-4") else None,
        )

    async def phone_status(self, phone: str) -> PhoneStatusAnswer:
        """``MobileStatus``. A number the carriers never issued is 不在网 (4)."""
        spec = codes.MOBILE_STATUS
        begun = await self._begin(spec.check, {"phone": phone})
        if not self._phone_ok(phone):
            return self._answer(PhoneStatusAnswer, spec, "-2", begun)
        row = self.store.phone(self.world_id, phone)
        status_code = 4 if row is None else _STATUS_CODES[row.status]
        return self._answer(
            PhoneStatusAnswer,
            spec,
            "0",
            begun,
            status_code=status_code,
            outcome=codes.phone_status_outcome("0", status_code),
        )

    async def phone_tenure(self, phone: str) -> PhoneTenureAnswer:
        """``MobileNetworkTimeVerification``.

        Tenure runs from ``owner_since``, the day the current holder got the number
        (DESIGN §5); a SIM replacement by the same holder does not restart it — the
        carriers report that through the SIM-swap check. A number without
        an ``owner_since`` answers "-3" (存在但无法查询到在网时长); an unknown,
        cancelled or nonexistent number "-2".
        """
        spec = codes.MOBILE_NETWORK_TIME
        begun = await self._begin(spec.check, {"phone": phone})
        if not self._phone_ok(phone):
            return self._answer(PhoneTenureAnswer, spec, "-1", begun)
        row = self.store.phone(self.world_id, phone)
        if row is None or row.status in _GONE:
            return self._answer(PhoneTenureAnswer, spec, "-2", begun)
        if row.owner_since is None:
            return self._answer(PhoneTenureAnswer, spec, "-3", begun)
        bucket = TenureBucket.for_months(_months_between(row.owner_since, self.clock.today()))
        low, high = parse_tenure_range(bucket.value)
        return self._answer(
            PhoneTenureAnswer, spec, "0", begun, min_months=low, max_months=high, bucket=bucket
        )

    async def carrier_lookup(self, phone: str) -> CarrierLookupAnswer:
        """``DescribePhoneNumberAttribute``: current carrier and whether ported."""
        spec = codes.DESCRIBE_PHONE_NUMBER_ATTRIBUTE
        begun = await self._begin(spec.check, {"phone": phone})
        if not self._phone_ok(phone):
            return self._answer(CarrierLookupAnswer, spec, "isv.INVALID_PARAMETERS", begun)
        row = self.store.phone(self.world_id, phone)
        if row is None or row.status == "nonexistent":
            return self._answer(CarrierLookupAnswer, spec, "isp.NUMBER_NON_EXISTENT", begun)
        return self._answer(
            CarrierLookupAnswer,
            spec,
            "OK",
            begun,
            carrier=Carrier(row.carrier),
            ported=row.ported_from is not None,
        )

    async def phone_recycled(self, phone: str, registered_on: date) -> PhoneRecycledAnswer:
        """``MobileRecycledMetaVerify``: was the number re-issued after ``registered_on``?

        The carrier's entry date is ``owner_since`` (a SIM replacement does not
        change it). A holder who got the number within ``recycled_sync_lag_days`` is
        not synchronised yet (SubCode 103); unknown, cancelled or nonexistent numbers
        and numbers without an entry date have no result (301).
        """
        spec = codes.MOBILE_RECYCLED_META_VERIFY
        begun = await self._begin(spec.check, {"phone": phone})
        if not self._phone_ok(phone):
            return self._answer(PhoneRecycledAnswer, spec, "401", begun)
        row = self.store.phone(self.world_id, phone)
        if row is None or row.status in _GONE or row.owner_since is None:
            code = "301"
        elif (self.clock.today() - row.owner_since).days < self.config.recycled_sync_lag_days:
            code = "103"
        elif registered_on >= row.owner_since:
            code = "101"
        else:
            code = "102"
        return self._answer(
            PhoneRecycledAnswer, spec, code, begun, biz_code=codes.RECYCLED_BIZ_CODES.get(code)
        )

    async def sim_swap(self, phone: str, max_age_days: int = 30) -> SimSwapAnswer:
        """CAMARA SIM Swap ``check``: a SIM replaced by the same holder within the window.

        ``sim_changed`` (DESIGN §5) is the day of the last replacement without a change
        of owner; a change of owner is not a swap. Unknown, cancelled and nonexistent
        numbers answer 404.
        """
        spec = codes.CAMARA_SIM_SWAP
        begun = await self._begin(spec.check, {"phone": phone})
        if not self._phone_ok(phone) or not 1 <= max_age_days <= 100:
            return self._answer(SimSwapAnswer, spec, "400", begun, max_age_days=max_age_days)
        row = self.store.phone(self.world_id, phone)
        if row is None or row.status in _GONE:
            return self._answer(SimSwapAnswer, spec, "404", begun, max_age_days=max_age_days)
        swapped = (
            row.sim_changed is not None
            and 0 <= (self.clock.today() - row.sim_changed).days <= max_age_days
        )
        return self._answer(
            SimSwapAnswer,
            spec,
            "200",
            begun,
            max_age_days=max_age_days,
            outcome=SimSwapOutcome.SWAPPED if swapped else SimSwapOutcome.NOT_SWAPPED,
        )

    async def bank_card_four_element(
        self, name: str, id_number: str, card_number: str, phone: str
    ) -> BankCardAnswer:
        """``BankCard4EVerification``.

        A card in a blocking state answers its status code whoever asks. Otherwise
        the sandbox answers "-6" (持卡人信息有误) when the name or ID number differs
        from the card holder's, and "-1" (认证未通过) when they agree but the phone is
        not the card's reserved phone. Tencent documents both codes without saying
        which element each stands for; this split follows UnionPay's detailed
        four-element answers (cardholder identity vs. reserved phone) and is what
        lets BANK_CARD_NOT_OWNED be told from BANK_CARD_PHONE_MISMATCH. An unknown
        card of a known issuer is "-9" (无效卡号), of an unknown issuer "-10".
        """
        spec = codes.BANK_CARD_4E_VERIFICATION
        begun = await self._begin(
            spec.check,
            {"name": name, "id_number": id_number, "phone": phone, "card_number": card_number},
        )
        number = self._id_number(id_number)
        if not self._name_ok(name):
            code = "-2"
        elif number is None:
            code = "-3"
        elif _DIGITS.fullmatch(card_number) is None or not luhn.is_valid(card_number):
            code = "-4"
        elif not self._phone_ok(phone):
            code = "-5"
        else:
            card = self.store.card(self.world_id, card_number)
            if card is None:
                code = "-9" if bank_card_ids.is_valid(card_number) else "-10"
            elif card.status in _CARD_STATE_CODES:
                code = _CARD_STATE_CODES[card.status]
            else:
                holder = self._citizen(card.owner_id)
                if holder is None or holder.name != name or holder.id_number != number:
                    code = "-6"
                elif card.reserved_phone != phone:
                    code = "-1"
                else:
                    code = "0"
        meaning = spec.meaning(code)
        return self._answer(BankCardAnswer, spec, code, begun, card_status=meaning.card_status)

    # --------------------------------------------------------------------------- face

    def _engine(self) -> FaceEngine:
        if self.face_engine is None:
            raise FaceEngineMissing()
        return self.face_engine

    async def face_liveness(self, capture: FaceCapture) -> FaceLivenessAnswer:
        """``Liveness``, judged by the plugged-in face engine."""
        engine = self._engine()
        spec = codes.LIVENESS
        begun = await self._begin(spec.check, {})
        verdict = await engine.assess_liveness(capture)
        if verdict.quality_issue is not None:
            code = _QUALITY_CODES[verdict.quality_issue]
        else:
            code = "Success" if verdict.live else "FailedOperation.LifePhotoDetectFake"
        return self._answer(
            FaceLivenessAnswer,
            spec,
            code,
            begun,
            quality_issue=verdict.quality_issue,
            reason_tag=verdict.reason_tag,
        )

    async def face_compare(
        self, name: str, id_number: str, capture: FaceCapture
    ) -> FaceCompareAnswer:
        """``LivenessRecognition``: the capture against the registry portrait."""
        engine = self._engine()
        spec = codes.LIVENESS_RECOGNITION
        begun = await self._begin(spec.check, {"name": name, "id_number": id_number})
        number = self._id_number(id_number)
        citizen = None if number is None else self.store.citizen_by_id_number(self.world_id, number)
        if number is None:
            code = "FailedOperation.IdFormatError"
        elif citizen is None:
            code = "FailedOperation.IdNoExistSystem"
        elif citizen.name != name:
            code = "FailedOperation.IdNameMisMatch"
        elif citizen.portrait is None:
            code = "FailedOperation.IdPhotoNoExist"
        else:
            similarity = await engine.compare(capture, citizen.portrait)
            if similarity.quality_issue is not None:
                return self._answer(
                    FaceCompareAnswer,
                    spec,
                    _QUALITY_CODES[similarity.quality_issue],
                    begun,
                    quality_issue=similarity.quality_issue,
                )
            passed = similarity.score >= FACE_SIMILARITY_THRESHOLD
            return self._answer(
                FaceCompareAnswer,
                spec,
                "Success" if passed else "FailedOperation.CompareLowSimilarity",
                begun,
                similarity=round(similarity.score, 2),
                threshold=FACE_SIMILARITY_THRESHOLD,
            )
        return self._answer(FaceCompareAnswer, spec, code, begun)
