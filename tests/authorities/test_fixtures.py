"""Fixture files: the public scenarios load; malformed files are refused whole."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from realname.authorities.errors import FixtureError
from realname.authorities.protocol import Carrier, Check
from realname.authorities.sandbox import SandboxStore, load_fixture_file, load_into_store
from realname.authorities.sandbox.config import FaultKind
from realname.authorities.sandbox.fixtures import (
    ConsentScope,
    Level,
    PhoneStatus,
    parse_fixture,
)

DATA = Path(__file__).parent / "data"
PUBLIC = DATA / "public.yaml"

GOOD = """\
today: 2026-12-01
scenarios:
  - id: first
    registry:
      citizens:
        - {ref: a, name: 王小明, id_number: "110105199003071239", valid_until: 2031-05-01}
        - {ref: h, name: 王建国, id_number: "11010519700101803X"}
      phones:
        - {number: "13912345678", carrier: cmcc, owner: h, status: normal, owner_since: 2009-05-01}
      bank_cards:
        - {number: "6222020200112230004", owner: a, reserved_phone: "13912345678"}
    submit: {name: 王小明, id_number: "110105199003071239", phone: "13912345678"}
    product_level: L2
    expect: {level: L1, causes: [PHONE_OWNED_BY_OTHER]}
  - id: second
    registry:
      citizens: [{ref: a, name: 王小明, id_number: "110105199003071239"}]
    submit: {name: 王小明, id_number: "110105199003071239"}
    product_level: L2
    expect: {level: L1, causes: [STEPS_INCOMPLETE]}
"""


def test_the_public_scenarios_are_the_shared_ones() -> None:
    shared = Path(__file__).parents[1] / "data" / "scenarios" / "public.yaml"
    assert PUBLIC.read_bytes() == shared.read_bytes()


def test_the_public_scenarios_load() -> None:
    fixture = load_fixture_file(PUBLIC)
    assert fixture.today == date(2026, 12, 1)
    assert len(fixture.scenarios) == 28
    recycled = fixture.scenario("phone-recycled")
    assert recycled.platform.accounts[0].verified is not None
    assert recycled.platform.accounts[0].verified.at == date(2024, 1, 10)
    assert recycled.submit.account == "acc1"
    assert recycled.expect.causes == ["PHONE_RECYCLED"]
    assert recycled.product_level is Level.L2
    ported = fixture.scenario("phone-ported-to-another-carrier").registry.phones[0]
    assert (ported.carrier, ported.ported_from) == (Carrier.CTCC, Carrier.CMCC)
    assert fixture.scenario("phone-cancelled").registry.phones[0].status is PhoneStatus.CANCELLED
    timeout = fixture.scenario("carrier-times-out").faults[0]
    assert (timeout.check, timeout.kind) == (Check.CARRIER_THREE_ELEMENT, FaultKind.TIMEOUT)
    consent = fixture.scenario("no-consent-for-face").submit
    assert consent.consents_to(ConsentScope.PHONE)
    assert not consent.consents_to(ConsentScope.FACE)
    assert fixture.scenario("happy-l3-face").submit.consents_to(ConsentScope.FACE)
    # Submissions keep what the user typed, typos included.
    assert fixture.scenario("old-15-digit-id-and-lowercase-x").submit.id_number == "110105700101803"
    assert fixture.scenario("minority-name-separator").submit.name == "买买提•艾力"


def test_the_public_scenarios_fill_a_store(tmp_path: Path) -> None:
    with SandboxStore(tmp_path / "sandbox.db") as store:
        names = load_into_store(store, load_fixture_file(PUBLIC), source=str(PUBLIC))
        assert len(names) == 28
        worlds = {world.name: world for world in store.worlds()}
        assert worlds["phone-of-a-parent"].citizens == 2
        assert worlds["bank-card-lost"].bank_cards == 1
        assert worlds["happy-l2-phone"].today == date(2026, 12, 1)
    # Reloading replaces the worlds instead of duplicating them.
    with SandboxStore(tmp_path / "sandbox.db") as store:
        load_into_store(store, load_fixture_file(PUBLIC))
        assert len(store.worlds()) == 28
        fixture = load_fixture_file(PUBLIC)
        expected = sum(len(s.registry.citizens) for s in fixture.scenarios)
        assert store.query("SELECT count(*) FROM citizens")[0][0] == expected


def _error(text: str, file: str = "bad.yaml") -> FixtureError:
    with pytest.raises(FixtureError) as caught:
        parse_fixture(textwrap.dedent(text), file=file)
    return caught.value


def _broken(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "scenario", "field", "words"),
    [
        pytest.param(_broken("valid_until: 2031-05-01}", "valid_until: 2031-05-01, age: 3}"),
                     "first", "registry.citizens[0].age", "Extra inputs", id="unknown-field"),
        pytest.param(_broken("product_level: L2\n    expect: {level: L1, causes: [PHONE",
                             "product_level: L2\n    colour: red\n    expect: {level: L1, "
                             "causes: [PHONE"),
                     "first", "colour", "Extra inputs", id="unknown-scenario-field"),
        pytest.param(_broken('"110105199003071239", valid_until',
                             '"110105199003071238", valid_until'),
                     "first", "registry.citizens[0].id_number", "check", id="bad-id-checksum"),
        pytest.param(_broken('"11010519700101803X"', '"110105700101803"'),
                     "first", "registry.citizens[1].id_number", "18", id="15-digit-in-registry"),
        pytest.param(_broken("owner: h, status", "owner: z, status"),
                     "first", "registry.phones[0].owner", "unknown citizen ref",
                     id="missing-phone-owner"),
        pytest.param(_broken("owner: a, reserved_phone", "owner: q, reserved_phone"),
                     "first", "registry.bank_cards[0].owner", "unknown citizen ref",
                     id="missing-card-owner"),
        pytest.param(_broken("{ref: h, name: 王建国", "{ref: a, name: 王建国"),
                     "first", "registry.citizens[1].ref", "duplicate citizen ref",
                     id="duplicate-ref"),
        pytest.param(_broken("  - id: second", "  - id: first"),
                     "first", "id", "duplicate scenario id", id="duplicate-id"),
        pytest.param(_broken('number: "13912345678", carrier: cmcc',
                             "number: 13912345678, carrier: cmcc"),
                     "first", "registry.phones[0].number", "valid string", id="unquoted-number"),
        pytest.param(_broken("carrier: cmcc, owner: h", "carrier: ctcc, owner: h"),
                     "first", "registry.phones[0]", "cmcc", id="carrier-without-porting"),
        pytest.param(_broken("carrier: cmcc, owner: h",
                             "carrier: cmcc, ported_from: cucc, owner: h"),
                     "first", "registry.phones[0]", "ported_from", id="ported-from-wrong-block"),
        pytest.param(_broken('"6222020200112230004"', '"6222020200112230005"'),
                     "first", "registry.bank_cards[0].number", "check", id="bad-luhn"),
        pytest.param(_broken("name: 王建国", "name: 王 建国"),
                     "first", "registry.citizens[1].name", "registry form", id="unnormalised-name"),
        pytest.param(_broken("status: normal", "status: sleeping"),
                     "first", "registry.phones[0].status", "normal", id="bad-status"),
        pytest.param(_broken("expect: {level: L1, causes: [STEPS",
                             "expect: {level: L5, causes: [STEPS"),
                     "second", "expect.level", "L0", id="bad-level"),
        pytest.param(_broken("submit: {name: 王小明, id_number: \"110105199003071239\"}",
                             "submit: {account: nobody, name: 王小明}"),
                     "second", "submit.account", "unknown account ref", id="missing-account"),
        pytest.param(_broken("  - id: second\n",
                             "  - id: second\n    faults: [{check: face_compare, kind: flood}]\n"),
                     "second", "faults[0].kind", "timeout", id="bad-fault-kind"),
        pytest.param(_broken("    product_level: L2\n    expect: {level: L1, causes: [STEPS",
                             "    expect: {level: L1, causes: [STEPS"),
                     "second", "product_level", "required", id="missing-field"),
    ],
)  # fmt: skip
def test_malformed_fixtures_name_file_scenario_and_field(
    text: str, scenario: str, field: str, words: str
) -> None:
    error = _error(text, file="fixtures/bad.yaml")
    assert error.code == "FIXTURE_INVALID"
    assert error.details["file"] == "fixtures/bad.yaml"
    assert error.details["scenario"] == scenario
    assert error.details["field"] == field
    assert words in error.problems[0]["problem"]
    assert "fixtures/bad.yaml" in error.message
    assert f"scenario {scenario!r}" in error.message
    assert field in error.message


def test_problems_never_quote_personal_data() -> None:
    error = _error(
        _broken('"110105199003071239", valid_until', '"110105199003071238", valid_until')
    )
    assert "110105199003071238" not in str(error.details)
    assert "110105199003071238" not in error.message


def test_every_problem_is_listed() -> None:
    text = _broken("owner: h, status", "owner: z, status").replace("level: L5", "level: L9")
    text = text.replace("expect: {level: L1, causes: [STEPS", "expect: {level: L9, causes: [STEPS")
    error = _error(text)
    assert [(p["scenario"], p["field"]) for p in error.problems] == [
        ("first", "registry.phones[0].owner"),
        ("second", "expect.level"),
    ]


def test_a_scenario_without_an_id_is_named_by_position() -> None:
    error = _error(_broken("  - id: second\n    registry:", "  - registry:"))
    assert error.details["scenario"] == "#1"
    assert error.details["field"] == "id"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("scenarios: [", "not valid YAML at line"),
        ("- a\n- b\n", "mapping"),
        ("today: 2026-12-01\ntoday: 2026-12-02\nscenarios: []\n", "duplicate key"),
        ("scenarios: []\n", "at least 1"),
    ],
)
def test_malformed_files(text: str, words: str) -> None:
    error = _error(text)
    assert words in error.message


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FixtureError) as caught:
        load_fixture_file(tmp_path / "missing.yaml")
    assert caught.value.details["file"].endswith("missing.yaml")


def test_a_malformed_file_leaves_the_store_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    with SandboxStore(path) as store:
        load_into_store(store, parse_fixture(GOOD))
    before = _snapshot(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        _broken("owner: h, status", "owner: z, status").replace("id: second", "id: third"),
        encoding="utf-8",
    )
    with pytest.raises(FixtureError):
        load_fixture_file(bad)
    assert _snapshot(path) == before


def test_a_failed_write_rolls_back_every_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sandbox.db"
    with SandboxStore(path) as store:
        load_into_store(store, parse_fixture(GOOD))
    before = _snapshot(path)
    changed = parse_fixture(GOOD.replace("id: first", "id: first-b"))
    with SandboxStore(path) as store:
        calls = 0
        original = store.insert_cards

        def failing(world_id: int, rows: object) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:  # the second scenario's cards
                raise RuntimeError("disk full")
            original(world_id, rows)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "insert_cards", failing)
        with pytest.raises(RuntimeError):
            load_into_store(store, changed)
    assert _snapshot(path) == before


def _snapshot(path: Path) -> list[object]:
    with SandboxStore(path) as store:
        return [
            [(w.name, w.kind, w.citizens, w.phones, w.bank_cards) for w in store.worlds()],
            store.query("SELECT * FROM citizens ORDER BY world_id, id"),
            store.query("SELECT * FROM phones ORDER BY world_id, number"),
            store.query("SELECT * FROM bank_cards ORDER BY world_id, number"),
        ]


def test_a_scenario_may_override_today() -> None:
    fixture = parse_fixture(_broken("  - id: second\n", "  - id: second\n    today: 2027-01-01\n"))
    assert fixture.today_for(fixture.scenario("second")) == date(2027, 1, 1)
    assert fixture.today_for(fixture.scenario("first")) == date(2026, 12, 1)
