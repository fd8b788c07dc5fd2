"""The synthetic population: deterministic, valid, and shaped as documented."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stdnum import luhn

from realname.authorities.sandbox import SandboxProvider, SandboxStore, generate, generate_into
from realname.authorities.sandbox.generator import (
    CARD_BINS,
    CARRIER_BLOCKS,
    EXCLUDED_BLOCKS,
    Shares,
)
from realname.identity import bank_card, id_number, name, phone

TODAY = date(2026, 12, 1)
N = 20_000


@dataclass
class Rows:
    """All rows of a generation run (typed loosely: tests index into them)."""

    citizens: list[Any] = field(default_factory=list)
    phones: list[Any] = field(default_factory=list)
    cards: list[Any] = field(default_factory=list)


def _all(n: int, seed: int, *, shares: Shares | None = None, batch_size: int = 50_000) -> Rows:
    merged = Rows()
    for batch in generate(n, seed, today=TODAY, shares=shares or Shares(), batch_size=batch_size):
        merged.citizens += batch.citizens
        merged.phones += batch.phones
        merged.cards += batch.cards
    return merged


@pytest.fixture(scope="module")
def population() -> Rows:
    return _all(N, 42)


def test_the_same_seed_gives_the_same_rows(population: Rows) -> None:
    again = _all(N, 42, batch_size=1_000)
    assert again.citizens == population.citizens
    assert again.phones == population.phones
    assert again.cards == population.cards


def test_another_seed_gives_other_rows(population: Rows) -> None:
    other = _all(N, 43)
    assert other.citizens[:50] != population.citizens[:50]
    shared = {row[3] for row in other.citizens} & {row[3] for row in population.citizens}
    assert len(shared) < N // 100


def test_exactly_n_citizens_with_ids_1_to_n(population: Rows) -> None:
    assert [row[0] for row in population.citizens] == list(range(1, N + 1))
    assert len(_all(1, 1).citizens) == 1
    assert _all(0, 1).citizens == []


def test_every_identifier_is_valid(population: Rows) -> None:
    numbers = [row[3] for row in population.citizens]
    assert len(set(numbers)) == N
    for number in numbers[:3000]:
        assert id_number.validate(number, today=TODAY) == number
    for row in population.citizens[:3000]:
        assert name.validate(row[2]) == row[2]
    for row in population.phones:
        number, carrier, ported_from = row[0], row[1], row[2]
        assert phone.get_carrier(number) == (ported_from or carrier)
    cards = [row[0] for row in population.cards]
    assert len(set(cards)) == len(cards)
    for card in cards[:3000]:
        assert bank_card.validate(card) == card
    assert len({row[0] for row in population.phones}) == len(population.phones)


def test_the_block_and_bin_tables_agree_with_identity() -> None:
    for carrier, blocks in CARRIER_BLOCKS.items():
        for block in blocks:
            parsed = phone.parse(block + "12345678")
            assert (parsed.carrier, parsed.is_virtual) == (carrier, False)
    for bin_, length in CARD_BINS:
        body = bin_ + "0" * (length - len(bin_) - 1)
        assert bank_card.get_issuer(body + luhn.calc_check_digit(body)).card_type == "debit"
    for block in EXCLUDED_BLOCKS:
        assert phone.get_carrier(block + "1234567") != phone.get_carrier(block[:3] + "01234567")


def _share(count: int, total: int) -> float:
    return count / total


def test_shares_are_as_documented(population: Rows) -> None:
    citizens = population.citizens
    ages = [id_number.get_age(row[3], TODAY) for row in citizens]
    assert 0.015 < _share(sum(a < 18 for a in ages), N) < 0.06
    assert _share(sum(18 <= a <= 70 for a in ages), N) > 0.90
    assert 0.01 < _share(sum("·" in row[2] for row in citizens), N) < 0.03
    expired = sum(row[4] is not None and row[4] < TODAY.isoformat() for row in citizens)
    assert 0.006 < _share(expired, N) < 0.014
    long_term = sum(row[4] is None for row in citizens)
    assert 0.05 < _share(long_term, N) < 0.5

    phones = population.phones
    total = len(phones)
    assert 0.9 < total / N < 1.3
    assert 0.02 < _share(sum(row[2] is not None for row in phones), total) < 0.04
    status = Counter(row[4] for row in phones)
    assert 0.013 < _share(status["suspended"], total) < 0.027
    assert 0.006 < _share(status["cancelled"], total) < 0.014
    never = sum(row[3] is None and row[4] == "normal" for row in phones)
    assert 0.006 < _share(never, total) < 0.014
    relative = sum(row[3] is not None and row[3] != row[7] for row in phones)
    assert 0.04 < _share(relative, total) < 0.07
    recycled = [row for row in phones if row[8] is not None]
    assert 0.013 < _share(len(recycled), total) < 0.027
    assert all(row[5] > "2025-12-01" for row in recycled)
    sim = [row for row in phones if row[6] is not None]
    assert 0.008 < _share(len(sim), total) < 0.022
    assert all("2026-11-01" <= row[6] <= TODAY.isoformat() for row in sim)
    shares = Counter(phone.get_carrier(row[0]) for row in phones)
    assert 0.5 < _share(shares["cmcc"], total) < 0.62

    cards = population.cards
    states = Counter(row[3] for row in cards)
    inactive = len(cards) - states["normal"]
    assert 0.02 < _share(inactive, len(cards)) < 0.05
    assert set(states) == {"normal", "lost", "dormant", "frozen", "expired", "no_cardless"}
    numbers = {row[0] for row in phones}
    stale = sum(row[2] not in numbers for row in cards)
    assert 0.015 < _share(stale, len(cards)) < 0.06


def test_relatives_share_the_surname_and_minors_use_a_parents_phone(population: Rows) -> None:
    by_id = {row[0]: row for row in population.citizens}
    held = [row for row in population.phones if row[3] is not None and row[3] != row[7]]
    same_surname = sum(by_id[row[3]][2][0] == by_id[row[7]][2][0] for row in held)
    assert same_surname / len(held) > 0.9
    minors_phones = [
        row for row in population.phones if id_number.get_age(by_id[row[7]][3], TODAY) < 18
    ]
    assert minors_phones
    assert all(row[3] != row[7] for row in minors_phones)
    # The registration holder is older than the minor using the phone.
    assert all(
        id_number.get_birth_date(by_id[row[3]][3]) < id_number.get_birth_date(by_id[row[7]][3])
        for row in minors_phones
    )


def test_shares_can_be_changed() -> None:
    population = _all(3000, 1, shares=Shares(ported=0.5))
    ported = sum(row[2] is not None for row in population.phones)
    assert ported / len(population.phones) > 0.4


@pytest.mark.anyio
async def test_generate_into_a_store_and_answer_from_it(tmp_path: Path) -> None:
    done: list[int] = []
    with SandboxStore(tmp_path / "sandbox.db") as store:
        info = generate_into(store, 2500, 9, today=TODAY, batch_size=1000, progress=done.append)
        assert (info.name, info.kind, info.citizens) == ("generated", "generated", 2500)
        assert done == [1000, 2000, 2500]
        row = store.query(
            "SELECT c.name, c.id_number, p.number FROM phones p JOIN citizens c"
            " ON c.world_id = p.world_id AND c.id = p.owner_id"
            " WHERE p.status = 'normal' AND p.owner_id = p.holder_id LIMIT 1"
        )[0]
        sandbox = SandboxProvider(store, "generated")
        answer = await sandbox.carrier_three_element(str(row[0]), str(row[1]), str(row[2]))
        assert answer.code == "0"
        # Regenerating replaces the world.
        generate_into(store, 100, 9, today=TODAY)
        assert [w.citizens for w in store.worlds()] == [100]
