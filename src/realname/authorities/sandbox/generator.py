"""Synthetic citizens, phones and bank cards at scale, deterministic by seed.

:func:`generate` yields batches of rows for ``n`` citizens; :func:`generate_into`
writes them into a :class:`~.store.SandboxStore` world. The same ``(n, seed, today)``
always gives the same rows.

The population is shaped after the causes DESIGN §1 lists, with these default shares
(:class:`Shares`; measured by the tests within a tolerance):

- citizens: ages mostly 18–70 (a few percent minors and over-70s), common surnames by
  their census frequency, one- or two-character given names, minority names (most
  with a ``·`` separator) for 2 % of independently drawn citizens — about 1.5 %
  overall, as relatives added for a shared phone take a Han surname — birthplaces
  from the real GB/T 2260 region codes, ID
  cards with the legal validity terms (5, 10, 20 years, long-term from 46) and about
  1 % expired;
- phones, per number: ~3 % ported, ~2 % suspended, ~1 % cancelled, ~1 % never
  real-name registered, ~5 % used by someone while registered to a relative (every
  minor's phone is a parent's), ~2 % re-issued recently with a previous holder, ~1.5 %
  with the SIM replaced in the last 30 days;
- bank cards: most adults one, some two; reserved phone mostly the number the holder
  uses, ~3 % an old number; ~3.5 % lost, dormant, frozen, expired or not enabled for
  card-not-present payments.

Numbers are real-looking: phone numbers in blocks of their carrier, card numbers on
real BINs with a Luhn check digit, ID numbers built with
:func:`realname.identity.id_number.build`. Portraits are not assigned (faces come with
the face package).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from stdnum import luhn

from realname.authorities.sandbox.store import (
    CardTuple,
    CitizenTuple,
    PhoneTuple,
    SandboxStore,
    WorldInfo,
)
from realname.identity import id_number

# ----------------------------------------------------------------------------- data

#: Common surnames with their approximate share of the population in percent
#: (Ministry of Public Security, 2020 census name statistics), and four compound ones.
SURNAMES: Sequence[tuple[str, float]] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1),
    ("黄", 2.4), ("赵", 2.3), ("吴", 2.0), ("周", 1.9), ("徐", 1.5), ("孙", 1.5),
    ("马", 1.4), ("朱", 1.3), ("胡", 1.2), ("郭", 1.2), ("何", 1.1), ("林", 1.1),
    ("高", 1.0), ("罗", 1.0), ("郑", 0.9), ("梁", 0.9), ("谢", 0.8), ("宋", 0.7),
    ("唐", 0.7), ("许", 0.7), ("韩", 0.6), ("冯", 0.6), ("邓", 0.6), ("曹", 0.6),
    ("彭", 0.6), ("曾", 0.5), ("肖", 0.5), ("田", 0.5), ("董", 0.5), ("袁", 0.5),
    ("潘", 0.5), ("于", 0.5), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4),
    ("任", 0.4), ("沈", 0.4), ("姚", 0.4), ("卢", 0.4), ("姜", 0.3), ("崔", 0.3),
    ("钟", 0.3), ("谭", 0.3), ("陆", 0.3), ("汪", 0.3), ("范", 0.3), ("金", 0.3),
    ("石", 0.3), ("廖", 0.3), ("贾", 0.3), ("夏", 0.3), ("韦", 0.3), ("付", 0.3),
    ("方", 0.3), ("白", 0.3), ("邹", 0.3), ("孟", 0.3), ("熊", 0.3), ("秦", 0.3),
    ("邱", 0.3), ("江", 0.3), ("尹", 0.3), ("薛", 0.2), ("闫", 0.2), ("段", 0.2),
    ("雷", 0.2), ("侯", 0.2), ("龙", 0.2), ("史", 0.2), ("陶", 0.2), ("黎", 0.2),
    ("贺", 0.2), ("顾", 0.2), ("毛", 0.2), ("郝", 0.2), ("龚", 0.2), ("邵", 0.2),
    ("万", 0.2), ("钱", 0.2), ("严", 0.2), ("覃", 0.2), ("武", 0.2), ("戴", 0.2),
    ("莫", 0.2), ("孔", 0.2), ("向", 0.2), ("汤", 0.2),
    ("欧阳", 0.05), ("司马", 0.01), ("诸葛", 0.01), ("上官", 0.01),
)  # fmt: skip

GIVEN_MALE = (
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳建国峰成亮志文东博晨轩然航泽睿"
)
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英燕玲桂兰红梅琳雪婷倩颖洁佳琪欣怡萱涵诗雨梓晴悦瑶妍思婉璐慧丹萍"
GIVEN_NEUTRAL = "小晓海春金玉云立新永家天一嘉心子安"

#: Parts of Uyghur and Kazakh names as the registry transliterates them; full names
#: join a given name and a father's name with ``·``.
MINORITY_PARTS = (
    "买买提", "艾力", "阿不都", "吐尔逊", "艾合买提", "依明", "努尔", "热合曼",
    "阿依古丽", "古丽", "迪丽拜尔", "帕提古丽", "热依拉", "再娜甫", "阿力木", "库尔班",
    "巴合提", "叶尔兰", "阿斯哈尔", "哈力克",
)  # fmt: skip
#: Tibetan names are written without a separator.
TIBETAN_NAMES = ("扎西", "卓玛", "次仁", "格桑", "拉姆", "多吉", "央金", "平措", "德吉", "尼玛")

#: Network blocks (three digits) of each carrier, virtual-operator blocks left out,
#: and each carrier's share of mobile subscriptions (MIIT 2024, rounded).
CARRIER_BLOCKS: dict[str, tuple[str, ...]] = {
    "cmcc": ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157",
             "158", "159", "172", "178", "182", "183", "184", "187", "188", "195",
             "197", "198"),
    "cucc": ("130", "131", "132", "155", "156", "166", "175", "176", "185", "186", "196"),
    "ctcc": ("133", "153", "173", "177", "180", "181", "189", "190", "191", "193", "199"),
    "cbn": ("192",),
}  # fmt: skip
#: Four-digit blocks carved out of the three-digit ones above for another use (1349:
#: China Telecom's satellite telephony inside China Mobile's 134).
EXCLUDED_BLOCKS = frozenset({"1349"})
CARRIER_SHARES: dict[str, float] = {"cmcc": 0.56, "ctcc": 0.24, "cucc": 0.19, "cbn": 0.01}

#: Debit-card BINs of large Chinese banks and the card length they issue.
CARD_BINS: tuple[tuple[str, int], ...] = (
    ("622202", 19),  # ICBC
    ("621226", 19),  # ICBC
    ("621700", 19),  # CCB
    ("622848", 19),  # ABC
    ("621661", 19),  # BOC
    ("622588", 16),  # CMB
    ("622262", 19),  # BOCOM
    ("621799", 19),  # PSBC
)

# -------------------------------------------------------------------------- shares


@dataclass(frozen=True)
class Shares:
    """Target shares of the generated population (fractions, not percent)."""

    minors: float = 0.03
    over_70: float = 0.03
    minority_names: float = 0.02
    id_expired: float = 0.01
    second_phone: float = 0.15
    ported: float = 0.03
    suspended: float = 0.02
    cancelled: float = 0.01
    never_registered: float = 0.01
    #: Adults' phones registered to a relative; minors' phones add to this.
    relative_held: float = 0.045
    recycled: float = 0.02
    sim_changed: float = 0.015
    second_card: float = 0.10
    stale_reserved_phone: float = 0.03
    card_lost: float = 0.005
    card_dormant: float = 0.012
    card_frozen: float = 0.003
    card_expired: float = 0.005
    card_no_cardless: float = 0.010


DEFAULT_SHARES = Shares()


@dataclass
class Batch:
    """Rows for :meth:`SandboxStore.insert_citizens` and friends."""

    citizens: list[CitizenTuple] = field(default_factory=list)
    phones: list[PhoneTuple] = field(default_factory=list)
    cards: list[CardTuple] = field(default_factory=list)


# ------------------------------------------------------------------------ generator


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _years_after(day: date, years: int) -> date:
    return _years_before(day, -years)


class _Population:
    """The state of one generation run."""

    def __init__(self, seed: int, today: date, shares: Shares) -> None:
        # A simulation needs repeatability, not unpredictability.
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        self.today = today
        self.shares = shares
        self.count = 0
        self.batch = Batch()
        self._ids: set[int] = set()
        self._phones: set[int] = set()
        self._cards: set[int] = set()
        self._surnames = [s for s, _ in SURNAMES]
        self._surname_weights = list(accumulate(w for _, w in SURNAMES))
        self._regions = [
            code
            for code in id_number.known_region_codes()
            if not code.endswith("00") and code[:2] not in {"71", "81", "82", "83"}
        ]
        self._carriers = list(CARRIER_SHARES)
        self._carrier_weights = list(accumulate(CARRIER_SHARES.values()))
        s = shares
        # Mutually exclusive phone categories, drawn with one roll.
        self._phone_kinds = (
            ("cancelled", s.cancelled),
            ("never_registered", s.never_registered),
            ("relative", s.relative_held),
            ("recycled", s.recycled),
        )
        self._card_states = (
            ("lost", s.card_lost),
            ("dormant", s.card_dormant),
            ("frozen", s.card_frozen),
            ("expired", s.card_expired),
            ("no_cardless", s.card_no_cardless),
        )

    # ------------------------------------------------------------------ primitives

    def _pick(self, table: Sequence[tuple[str, float]]) -> str | None:
        roll = self.rng.random()
        for value, share in table:
            if roll < share:
                return value
            roll -= share
        return None

    def _age(self) -> int:
        rng = self.rng
        roll = rng.random()
        if roll < self.shares.minors:
            return rng.randint(12, 17)
        if roll < self.shares.minors + self.shares.over_70:
            return rng.randint(71, 85)
        # 18-70, weighted towards the working ages that apply for credit.
        return min(70, 18 + int(rng.triangular(0, 52, 14)))

    def _name(self, surname: str | None, male: bool) -> tuple[str, str | None]:
        """A name and the family surname relatives share (``None`` for names
        without a Han surname)."""
        rng = self.rng
        if surname is None and rng.random() < self.shares.minority_names:
            if rng.random() < 0.8:
                first, second = rng.sample(MINORITY_PARTS, 2)
                return f"{first}·{second}", None
            return rng.choice(TIBETAN_NAMES) + rng.choice(TIBETAN_NAMES), None
        if surname is None:
            surname = rng.choices(self._surnames, cum_weights=self._surname_weights)[0]
        pool = (GIVEN_MALE if male else GIVEN_FEMALE) + GIVEN_NEUTRAL
        given = rng.choice(pool)
        if rng.random() < 0.75:
            given += rng.choice(pool)
        return surname + given, surname

    def _id_number(self, region: str, birth: date, male: bool) -> str:
        rng = self.rng
        while True:
            sequence = rng.randrange(0, 500) * 2 + (1 if male else 0)
            number = id_number.build(region, birth, sequence)
            key = int(number[:17])
            if key not in self._ids:
                self._ids.add(key)
                return number

    def _valid_until(self, age: int) -> str | None:
        """The end of the card's validity per the Resident Identity Card Law art. 5:
        5 years under 16, 10 years from 16, 20 years from 26, long-term from 46."""
        rng = self.rng
        if rng.random() < self.shares.id_expired:
            return (self.today - timedelta(days=rng.randint(1, 720))).isoformat()
        if age >= 46 and rng.random() < min(1.0, (age - 45) / 10):
            return None
        term = 5 if age < 16 else 10 if age < 26 else 20
        return (self.today + timedelta(days=rng.randint(1, term * 365))).isoformat()

    def _number(self, carrier: str) -> str:
        rng = self.rng
        blocks = CARRIER_BLOCKS[carrier]
        while True:
            number = f"{rng.choice(blocks)}{rng.randrange(10**8):08d}"
            key = int(number)
            if key not in self._phones and number[:4] not in EXCLUDED_BLOCKS:
                self._phones.add(key)
                return number

    def _card_number(self) -> str:
        rng = self.rng
        while True:
            bin_, length = rng.choice(CARD_BINS)
            body = bin_ + "".join(str(rng.randrange(10)) for _ in range(length - len(bin_) - 1))
            number = body + luhn.calc_check_digit(body)
            key = int(number)
            if key not in self._cards:
                self._cards.add(key)
                return number

    # -------------------------------------------------------------------- citizens

    def _citizen(
        self, age: int, *, surname: str | None = None, region: str | None = None
    ) -> tuple[int, str | None, str]:
        """Add a citizen; returns (id, family surname, region)."""
        rng = self.rng
        male = rng.random() < 0.51
        name, family = self._name(surname, male)
        region = region or rng.choice(self._regions)
        birth = _years_before(self.today, age) - timedelta(days=rng.randint(0, 364))
        number = self._id_number(region, birth, male)
        self.count += 1
        self.batch.citizens.append((self.count, None, name, number, self._valid_until(age), None))
        return self.count, family, region

    # ---------------------------------------------------------------------- phones

    def _phone(self, holder: int, age: int, kind: str | None, owner: int | None) -> str:
        """Add a number used by ``holder``; returns it."""
        rng = self.rng
        s = self.shares
        block_carrier = rng.choices(self._carriers, cum_weights=self._carrier_weights)[0]
        number = self._number(block_carrier)
        carrier, ported_from = block_carrier, None
        if rng.random() < s.ported:
            others = [c for c in ("cmcc", "cucc", "ctcc") if c != block_carrier]
            carrier, ported_from = rng.choice(others), block_carrier
        status = "normal"
        previous = None
        # How long the number has been with its current owner, at most since that
        # owner turned 16 (an ID card is needed to register a number).
        owner_age = age if owner == holder else max(age + 25, 40)
        tenure_days = min(int(rng.expovariate(1 / (6 * 365))), max(owner_age - 16, 0) * 365)
        if kind == "recycled" and self.count > 1:
            tenure_days = rng.randint(8, 330)
            previous = rng.randint(1, self.count - 1)
        if kind == "cancelled":
            status, owner = "cancelled", None
        elif kind == "never_registered":
            owner = None
        elif rng.random() < s.suspended:
            status = "suspended"
        owner_since = self.today - timedelta(days=tenure_days)
        sim_changed = None
        if status == "normal" and rng.random() < s.sim_changed:
            candidate = self.today - timedelta(days=rng.randint(0, 29))
            if candidate > owner_since:
                sim_changed = candidate.isoformat()
        self.batch.phones.append(
            (
                number,
                carrier,
                ported_from,
                owner,
                status,
                owner_since.isoformat(),
                sim_changed,
                holder,
                previous,
            )
        )
        return number

    def _card(self, owner: int, reserved_phone: str) -> None:
        rng = self.rng
        if rng.random() < self.shares.stale_reserved_phone:
            # An old number the bank still has on file, no longer in the registry.
            reserved_phone = f"{rng.choice(CARRIER_BLOCKS['cmcc'])}{rng.randrange(10**8):08d}"
        state = self._pick(self._card_states) or "normal"
        self.batch.cards.append((self._card_number(), owner, reserved_phone, state))

    # ---------------------------------------------------------------------- people

    def person(self, budget: int) -> None:
        """Add one person (and, for a phone held by a relative, that relative)."""
        rng = self.rng
        age = self._age()
        citizen, surname, region = self._citizen(age)
        kind = self._pick(self._phone_kinds) if age >= 18 else "relative"
        if kind == "relative" and budget < 2:
            kind = None
        owner = citizen
        if kind == "relative":
            # A parent (or an older relative of the family) owns the registration.
            relative_age = min(85, age + rng.randint(22, 35))
            owner, _, _ = self._citizen(relative_age, surname=surname, region=region)
        phones = []
        if age >= 12 and (age >= 18 or rng.random() < 0.6):
            phones.append(self._phone(citizen, age, kind, owner))
            if age >= 18 and rng.random() < self.shares.second_phone:
                phones.append(self._phone(citizen, age, None, citizen))
        if age >= 18 or (age >= 16 and rng.random() < 0.3):
            reserved = phones[0] if phones else self._number("cmcc")
            self._card(citizen, reserved)
            if age >= 18 and rng.random() < self.shares.second_card:
                self._card(citizen, reserved)

    def flush(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        return batch


def generate(
    n: int,
    seed: int,
    *,
    today: date,
    shares: Shares = DEFAULT_SHARES,
    batch_size: int = 50_000,
) -> Iterator[Batch]:
    """Rows for ``n`` synthetic citizens with their phones and cards, in batches.

    Citizen ids run from 1 to ``n``. Deterministic for equal arguments.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    population = _Population(seed, today, shares)
    while population.count < n:
        population.person(n - population.count)
        if len(population.batch.citizens) >= batch_size:
            yield population.flush()
    batch = population.flush()
    if batch.citizens or batch.phones or batch.cards:
        yield batch


def generate_into(
    store: SandboxStore,
    n: int,
    seed: int,
    *,
    today: date,
    world: str = "generated",
    shares: Shares = DEFAULT_SHARES,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> WorldInfo:
    """Generate ``n`` citizens into the world ``world`` (replacing it) in one bulk
    transaction; ``progress`` is called with the number of citizens written so far."""
    written = 0
    with store.transaction(bulk=True):
        world_id = store.create_world(
            world, kind="incomplete", source=f"generate n={n} seed={seed}", today=today
        )
        for batch in generate(n, seed, today=today, shares=shares, batch_size=batch_size):
            store.insert_citizens(world_id, batch.citizens)
            store.insert_phones(world_id, batch.phones)
            store.insert_cards(world_id, batch.cards)
            written += len(batch.citizens)
            if progress is not None:
                progress(written)
        store.mark_world(world_id, "generated")
    return next(info for info in store.worlds() if info.name == world)
