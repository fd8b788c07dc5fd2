"""Sandbox fixture files (DESIGN §5): the whole scenario as Pydantic models.

A fixture file is YAML: an optional ``today`` and a list of ``scenarios``, each with
what the authorities know (``registry``), what the platform already holds
(``platform``), what the user submits now (``submit``), optional ``faults``, the
``product_level`` and what realname must answer (``expect``). The verification engine
reuses :class:`Scenario`, :class:`Platform`, :class:`Submission` and
:class:`Expectation` as they are.

The models are strict about shape: unknown keys are rejected everywhere, YAML
mappings with a duplicated key are rejected, strings are never coerced from numbers
(an unquoted phone or ID number is an error, not a silent int). The *registry* is
validated with :mod:`realname.identity` — valid 18-digit ID numbers, registry-form
names, mainland mobile numbers whose carrier agrees with their block (or with
``ported_from``), Luhn-valid cards of a known issuer — and every reference must
resolve. What the user *submits* is deliberately not validated: scenarios exist to
submit typos, 15-digit numbers and wrong separators.

:func:`load_fixture_file` turns any problem into a :class:`FixtureError` naming the
file, the scenario id and the field; :func:`load_into_store` writes every scenario of
a file into a :class:`~.store.SandboxStore` in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from realname.authorities.errors import FixtureError
from realname.authorities.protocol import Carrier, Check
from realname.authorities.sandbox.config import FaultKind
from realname.authorities.sandbox.store import SandboxStore
from realname.identity import bank_card, id_number, name, phone
from realname.identity.errors import IdentityError

Ref = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
PortraitRef = Annotated[str, StringConstraints(pattern=r"^p[0-9]+$")]
CaptureRef = Annotated[str, StringConstraints(pattern=r"^((live|replay):p[0-9]+|none)$")]
CauseCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class PhoneStatus(StrEnum):
    NORMAL = "normal"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    NONEXISTENT = "nonexistent"


class CardState(StrEnum):
    """A card's state at its bank (the fixture ``status``)."""

    NORMAL = "normal"
    LOST = "lost"
    EXPIRED = "expired"
    FROZEN = "frozen"
    DORMANT = "dormant"
    NO_CARDLESS = "no_cardless"


class Level(StrEnum):
    """Assurance levels (DESIGN §3)."""

    L0 = "L0"
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class ConsentScope(StrEnum):
    ID = "id"
    PHONE = "phone"
    BANK_CARD = "bank_card"
    FACE = "face"


def _identity(check: Any, value: str) -> str:
    try:
        return str(check(value))
    except IdentityError as error:
        # The identity messages never quote the value (PIPL), so they are safe here.
        raise PydanticCustomError("identity", "{message}", {"message": error.message}) from None


# -------------------------------------------------------------------------- registry


class Citizen(_Model):
    """A person in the public-security registry."""

    ref: Ref
    name: str
    id_number: str
    #: Last day the ID card is valid; absent for a long-term (长期) card.
    valid_until: date | None = None
    #: One of the portraits the sandbox ships (``p1``, ``p2`` …).
    portrait: PortraitRef | None = None

    @field_validator("name")
    @classmethod
    def _registry_name(cls, value: str) -> str:
        normalised = _identity(name.validate, value)
        if normalised != value:
            raise PydanticCustomError(
                "registry_name",
                "registry names are written in registry form (· between parts, no spaces)",
            )
        return value

    @field_validator("id_number")
    @classmethod
    def _registry_id_number(cls, value: str) -> str:
        # get_birth_date validates everything but "born in the future": a fixture's
        # registry is judged against its own `today`, not the machine's date.
        _identity(id_number.get_birth_date, value)
        compact = id_number.compact(value)
        if len(compact) != 18:
            raise PydanticCustomError(
                "registry_id_number", "the registry holds 18-character ID numbers"
            )
        return compact


class Phone(_Model):
    """A mobile number at its carrier."""

    number: str
    carrier: Carrier
    #: The carrier the number's block belongs to, when the number was ported away.
    ported_from: Carrier | None = None
    #: The citizen the number is real-name registered to; ``None``: not registered.
    owner: Ref | None = None
    status: PhoneStatus = PhoneStatus.NORMAL
    #: The day the current owner got the number (what tenure checks measure).
    owner_since: date | None = None
    #: The day the SIM card was last replaced without a change of owner.
    sim_changed: date | None = None

    @field_validator("number")
    @classmethod
    def _mobile(cls, value: str) -> str:
        national = _identity(phone.validate, value)
        if national != value:
            raise PydanticCustomError("phone_form", "write phone numbers as 11 digits")
        return value

    @model_validator(mode="after")
    def _carrier_agrees_with_block(self) -> Phone:
        block = Carrier(phone.get_carrier(self.number))
        if self.ported_from is None and self.carrier != block:
            raise PydanticCustomError(
                "carrier_block",
                "the number's block belongs to {block}; a number served by another "
                "carrier needs ported_from",
                {"block": block.value},
            )
        if self.ported_from is not None:
            if self.ported_from != block:
                raise PydanticCustomError(
                    "ported_from",
                    "ported_from must be the carrier of the number's block ({block})",
                    {"block": block.value},
                )
            if self.carrier == self.ported_from:
                raise PydanticCustomError(
                    "ported_from", "a ported number is served by another carrier"
                )
        if (
            self.sim_changed is not None
            and self.owner_since is not None
            and self.sim_changed < self.owner_since
        ):
            raise PydanticCustomError("sim_changed", "sim_changed precedes owner_since")
        return self


class BankCard(_Model):
    number: str
    owner: Ref
    #: The phone number registered with the bank for this card (预留手机号).
    reserved_phone: str
    status: CardState = CardState.NORMAL

    @field_validator("number")
    @classmethod
    def _card(cls, value: str) -> str:
        digits = _identity(bank_card.validate, value)
        if digits != value:
            raise PydanticCustomError("card_form", "write card numbers as digits only")
        return value

    @field_validator("reserved_phone")
    @classmethod
    def _reserved_phone(cls, value: str) -> str:
        national = _identity(phone.validate, value)
        if national != value:
            raise PydanticCustomError("phone_form", "write phone numbers as 11 digits")
        return value


def _duplicates(values: Iterable[str]) -> list[int]:
    seen: set[str] = set()
    positions = []
    for position, value in enumerate(values):
        if value in seen:
            positions.append(position)
        seen.add(value)
    return positions


def _reference_error(field: str, problem: str, **context: Any) -> PydanticCustomError:
    """An error about a cross-reference; ``field`` is the dotted path of the culprit."""
    return PydanticCustomError(
        "fixture_reference", "{problem}", {"field": field, "problem": problem, **context}
    )


class Registry(_Model):
    """What the authorities know."""

    citizens: list[Citizen] = Field(default_factory=list)
    phones: list[Phone] = Field(default_factory=list)
    bank_cards: list[BankCard] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Registry:
        for position in _duplicates(c.ref for c in self.citizens):
            raise _reference_error(f"citizens[{position}].ref", "duplicate citizen ref")
        for position in _duplicates(c.id_number for c in self.citizens):
            raise _reference_error(f"citizens[{position}].id_number", "duplicate ID number")
        for position in _duplicates(p.number for p in self.phones):
            raise _reference_error(f"phones[{position}].number", "duplicate phone number")
        for position in _duplicates(c.number for c in self.bank_cards):
            raise _reference_error(f"bank_cards[{position}].number", "duplicate card number")
        refs = {c.ref for c in self.citizens}
        for position, entry in enumerate(self.phones):
            if entry.owner is not None and entry.owner not in refs:
                raise _reference_error(f"phones[{position}].owner", "unknown citizen ref")
        for position, card in enumerate(self.bank_cards):
            if card.owner not in refs:
                raise _reference_error(f"bank_cards[{position}].owner", "unknown citizen ref")
        return self

    def citizen(self, ref: str) -> Citizen:
        for citizen in self.citizens:
            if citizen.ref == ref:
                return citizen
        raise KeyError(ref)


# -------------------------------------------------------------------------- platform


class VerifiedRecord(_Model):
    """A verification the platform recorded earlier."""

    citizen: Ref
    level: Level
    at: date


class Account(_Model):
    ref: Ref
    phone: str
    verified: VerifiedRecord | None = None


class Platform(_Model):
    """What the platform already holds."""

    accounts: list[Account] = Field(default_factory=list)


class Submission(_Model):
    """What the user submits now, exactly as typed (never validated here)."""

    #: The platform account submitting; ``None``: the user signs up anew.
    account: Ref | None = None
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    bank_card: str | None = None
    #: A capture: ``live:pN``, ``replay:pN`` or ``none``.
    face: CaptureRef | None = None
    #: What the user consented to; ``None`` means all four.
    consent: list[ConsentScope] | None = None

    def consents_to(self, scope: ConsentScope) -> bool:
        return self.consent is None or scope in self.consent


class Fault(_Model):
    check: Check
    kind: FaultKind


class Expectation(_Model):
    level: Level
    causes: list[CauseCode] = Field(default_factory=list)


class Scenario(_Model):
    id: Ref
    registry: Registry = Field(default_factory=Registry)
    platform: Platform = Field(default_factory=Platform)
    submit: Submission
    faults: list[Fault] = Field(default_factory=list)
    product_level: Level
    expect: Expectation
    #: Overrides the file's ``today`` for this scenario.
    today: date | None = None

    @model_validator(mode="after")
    def _platform_references_resolve(self) -> Scenario:
        citizens = {c.ref for c in self.registry.citizens}
        for position in _duplicates(a.ref for a in self.platform.accounts):
            raise _reference_error(f"platform.accounts[{position}].ref", "duplicate account ref")
        for position, account in enumerate(self.platform.accounts):
            if account.verified is not None and account.verified.citizen not in citizens:
                raise _reference_error(
                    f"platform.accounts[{position}].verified.citizen", "unknown citizen ref"
                )
        accounts = {a.ref for a in self.platform.accounts}
        if self.submit.account is not None and self.submit.account not in accounts:
            raise _reference_error("submit.account", "unknown account ref")
        for position in _duplicates(f.check.value for f in self.faults):
            raise _reference_error(f"faults[{position}].check", "duplicate fault for a check")
        return self


class FixtureFile(_Model):
    #: The date of the run (DESIGN §5); scenarios may override it.
    today: date | None = None
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> FixtureFile:
        for position in _duplicates(s.id for s in self.scenarios):
            raise _reference_error(f"scenarios[{position}].id", "duplicate scenario id")
        return self

    def scenario(self, scenario_id: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.id == scenario_id:
                return scenario
        raise KeyError(scenario_id)

    def today_for(self, scenario: Scenario) -> date | None:
        return scenario.today or self.today


# ------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a mapping with the same key twice (PyYAML keeps
    the last one silently, which would hide a fixture mistake)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        keys.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _problems(error: ValidationError, raw: Any) -> list[dict[str, Any]]:
    problems = []
    raw_scenarios = raw.get("scenarios") if isinstance(raw, dict) else None
    for item in error.errors(include_input=False, include_url=False):
        loc = list(item["loc"])
        context = item.get("ctx") or {}
        if item["type"] == "fixture_reference" and not loc:
            # A file-level problem about one scenario (a duplicate id) belongs to it.
            match = re.fullmatch(r"scenarios\[(\d+)\]\.(.+)", context["field"])
            if match:
                loc = ["scenarios", int(match[1])]
                context = {**context, "field": match[2]}
        scenario: str | None = None
        if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int):
            position = loc[1]
            scenario = f"#{position}"
            if isinstance(raw_scenarios, list) and position < len(raw_scenarios):
                entry = raw_scenarios[position]
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    scenario = entry["id"]
            loc = loc[2:]
        if item["type"] == "fixture_reference":
            loc = [*loc, context["field"]]
        # Pydantic names the tagged member of a union (`str`, `date`) in the location
        # of its errors; that is noise for a fixture author.
        field = _path(part for part in loc if part not in {"str", "date", "constrained-str"})
        problems.append({"scenario": scenario, "field": field or None, "problem": str(item["msg"])})
    return problems


def parse_fixture(text: str, *, file: str = "<fixture>") -> FixtureFile:
    """Validate fixture YAML; raise :class:`FixtureError` naming what is wrong."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise FixtureError(
            file,
            [{"scenario": None, "field": None, "problem": f"not valid YAML{where}: {problem}"}],
        ) from None
    if not isinstance(raw, dict):
        raise FixtureError(
            file,
            [
                {
                    "scenario": None,
                    "field": None,
                    "problem": "a fixture file is a mapping with `scenarios`",
                }
            ],
        )
    try:
        return FixtureFile.model_validate(raw)
    except ValidationError as error:
        raise FixtureError(file, _problems(error, raw)) from None


def load_fixture_file(path: str | Path) -> FixtureFile:
    """Read and validate a fixture file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FixtureError(
            str(path),
            [
                {
                    "scenario": None,
                    "field": None,
                    "problem": f"cannot read the file ({type(error).__name__})",
                }
            ],
        ) from None
    return parse_fixture(text, file=str(path))


# -------------------------------------------------------------------------- storing


def write_scenario(
    store: SandboxStore, scenario: Scenario, *, today: date | None = None, source: str | None = None
) -> int:
    """Write one scenario's registry as the world named after the scenario id.

    Must run inside ``store.transaction()``; returns the world id. Every phone's
    actual user is taken to be its owner (fixtures state no other).
    """
    world_id = store.create_world(scenario.id, kind="fixture", source=source, today=today)
    ids = {citizen.ref: position + 1 for position, citizen in enumerate(scenario.registry.citizens)}
    store.insert_citizens(
        world_id,
        (
            (
                ids[c.ref],
                c.ref,
                c.name,
                c.id_number,
                c.valid_until.isoformat() if c.valid_until else None,
                c.portrait,
            )
            for c in scenario.registry.citizens
        ),
    )
    store.insert_phones(
        world_id,
        (
            (
                p.number,
                p.carrier.value,
                p.ported_from.value if p.ported_from else None,
                ids[p.owner] if p.owner else None,
                p.status.value,
                p.owner_since.isoformat() if p.owner_since else None,
                p.sim_changed.isoformat() if p.sim_changed else None,
                ids[p.owner] if p.owner else None,
                None,
            )
            for p in scenario.registry.phones
        ),
    )
    store.insert_cards(
        world_id,
        (
            (c.number, ids[c.owner], c.reserved_phone, c.status.value)
            for c in scenario.registry.bank_cards
        ),
    )
    return world_id


def load_into_store(
    store: SandboxStore, fixture: FixtureFile, *, source: str | None = None
) -> list[str]:
    """Write every scenario of ``fixture`` into ``store`` in one transaction.

    A world of the same name is replaced. Either all scenarios are written or, on
    any error, none (the transaction rolls back). Returns the world names.
    """
    with store.transaction():
        for scenario in fixture.scenarios:
            write_scenario(store, scenario, today=fixture.today_for(scenario), source=source)
    return [scenario.id for scenario in fixture.scenarios]


__all__ = [
    "Account",
    "BankCard",
    "CardState",
    "Citizen",
    "ConsentScope",
    "Expectation",
    "Fault",
    "FixtureFile",
    "Level",
    "Phone",
    "PhoneStatus",
    "Platform",
    "Registry",
    "Scenario",
    "Submission",
    "VerifiedRecord",
    "load_fixture_file",
    "load_into_store",
    "parse_fixture",
    "write_scenario",
]
