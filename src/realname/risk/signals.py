"""What one request tells about risk: the signals, and the features policies read.

A :class:`Signals` value is plain data gathered at the edges (the borrower pages,
an API header, the carrier checks, the attempt counters) and passed to pure
functions. Every field is optional: a missing or absurd value (a negative time, a
device id in no known format) becomes *unknown*, and the policy decides what unknown
means for each rule — for the risk rules it counts as a hit, never as safe.

Behaviour features (time to fill, pastes, corrections, focus changes) are personal
information about how someone uses the pages; they are read only when the user gave
the consent PIPL Art. 13/14 requires (``consent``), otherwise ignored and the
decision notes that they were.

Why each of the account-history signals exists on a real platform (none of them is
something only an attacker could produce; legitimate users show every one of them
sometimes, and the generator in :mod:`realname.risk.sessions` draws them so):

- ``sim_swap_recent`` / ``sim_swap_hours``: the carriers' SIM-swap checks (and the
  GSMA Open Gateway / CAMARA *SIM Swap* API) answer with the date of the last SIM
  change, not only yes/no. A takeover acts within hours of the swap, before the
  victim notices the dead phone; a customer replacing a lost card uses the account
  days later, so recency separates the two better than the 30-day flag alone.
- ``device_other_people``: a platform sees the same device id on many accounts; the
  device graph (which *people* acted from this device) is ordinary anti-fraud
  bookkeeping. A family tablet or a second-hand phone gives a legitimate user one
  or two; a fraud ring's phones or an emulator farm give many.
- ``device_of_relative``: consumer-credit applications collect emergency contacts
  (紧急联系人) and addresses; a device bound to the account of the owner's contact
  or household member is how family misuse shows in the data. Spouses sharing a
  phone do this legitimately too, so it is a score, not a verdict.
- ``behaviour.cadence_distance``: behavioural biometrics compare the typing and
  touch rhythm of this session with the owner's own earlier sessions (a profile kept
  with consent). Someone else holding the owner's phone and ID card types
  differently; the owner with an injured hand or on a new keyboard does too, sometimes.
"""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from realname.risk import geoip


class Action(StrEnum):
    """The sensitive actions a policy covers."""

    LOGIN = "login"
    VERIFICATION = "verification"
    CREDIT_DRAWDOWN = "credit_drawdown"
    PHONE_CHANGE = "phone_change"
    PAYOUT_CARD_CHANGE = "payout_card_change"


class Factor(StrEnum):
    """Step-up factors, weakest first: an SMS code, the bank-card four-element check
    (name, ID number, card number, phone at the issuing bank), a face comparison."""

    OTP = "otp"
    BANK_CARD = "bank_card"
    FACE = "face"


TenureBucket = Literal["0-3", "3-6", "6-12", "12-24", "24+"]
"""Months on the network (在网时长) in the buckets the carriers answer with."""

# Device ids come from the borrower pages (a UUID they mint) or an API header (an
# Android ID or IDFV-like hex string); a value in any other shape is treated as
# unknown rather than trusted.
_DEVICE_ID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,64}")


def _non_negative(value: Any) -> Any:
    # Absurd numbers (negative counts or times) become unknown, never zero (= safe).
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return None
    return value


Count = Annotated[int | None, BeforeValidator(_non_negative)]
Seconds = Annotated[float | None, BeforeValidator(_non_negative)]


class _Plain(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Velocity(_Plain):
    """Attempts seen for this request's ID number, phone, device and IP, over the
    last hour and the last day (the sliding-window counters live at the edge)."""

    id_number_1h: Count = None
    id_number_24h: Count = None
    phone_1h: Count = None
    phone_24h: Count = None
    device_1h: Count = None
    device_24h: Count = None
    ip_1h: Count = None
    ip_24h: Count = None


class Behaviour(_Plain):
    """How the borrower pages were filled in (collected only with consent)."""

    fill_seconds: Seconds = None
    paste_identity_fields: Count = Field(
        default=None, description="paste events into the ID number or name fields"
    )
    corrections: Count = None
    focus_changes: Count = None
    cadence_distance: Seconds = Field(
        default=None,
        description=(
            "how far this session's typing and touch cadence lies from the account "
            "owner's own history, in standard deviations; absent without a history"
        ),
    )


class Signals(_Plain):
    """Everything one request tells; ``None`` always means unknown."""

    action: Action
    device_id: str | None = None
    device_known: bool | None = Field(
        default=None, description="the device id was seen before for this user"
    )
    device_count: Count = Field(default=None, description="devices seen for this user")
    ip: IPv4Address | IPv6Address | None = None
    ip_country: str | None = None
    ip_province: str | None = None
    phone_home_province: str | None = None
    sim_swap_recent: bool | None = Field(
        default=None, description="carrier reports a SIM replacement in the last 30 days"
    )
    sim_swap_hours: Seconds = Field(
        default=None,
        description="hours since that SIM replacement, when the carrier dates it",
    )
    device_other_people: Count = Field(
        default=None,
        description="other people (not this account's owner) whose accounts used this device",
    )
    device_of_relative: bool | None = Field(
        default=None,
        description=(
            "this device is bound to the account of someone related to the owner "
            "(an emergency contact or the same household)"
        ),
    )
    network_tenure: TenureBucket | None = None
    velocity: Velocity = Velocity()
    days_since_verification: Seconds = Field(
        default=None, description="days since the last successful verification"
    )
    consent: bool = Field(default=False, description="consent to behaviour analysis")
    behaviour: Behaviour | None = None

    @field_validator("device_id", mode="before")
    @classmethod
    def _device_format(cls, value: Any) -> Any:
        if isinstance(value, str) and _DEVICE_ID.fullmatch(value) is None:
            return None
        return value

    @field_validator("ip_province", "phone_home_province")
    @classmethod
    def _province(cls, value: str | None) -> str | None:
        return geoip.normalise_province(value)


def locate(signals: Signals) -> Signals:
    """``signals`` with country and province filled from the IP when they are missing."""
    if signals.ip is None or signals.ip_province is not None:
        return signals
    where = geoip.locate(str(signals.ip))
    return signals.model_copy(
        update={"ip_country": signals.ip_country or where.country, "ip_province": where.province}
    )


def phone_home_province(number: str) -> str | None:
    """The home province (号码归属地) of a mobile number, ``None`` when unknown or invalid."""
    from realname.identity import phone
    from realname.identity.errors import PhoneInvalid

    try:
        return phone.parse(number).home_province
    except PhoneInvalid:
        return None


Feature = bool | float | None


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)


def _peak(*counts: int | None) -> float | None:
    known = [count for count in counts if count is not None]
    return float(max(known)) if known else None


def _swap_within(signals: Signals, hours: float) -> bool | None:
    # No swap at all is "not within"; an unknown answer, or a swap the carrier does
    # not date, is unknown — and the policy counts it as a hit: unknown is never
    # safe, so an undated swap weighs as much as one from this morning.
    if signals.sim_swap_recent is False:
        return False
    if signals.sim_swap_recent is None or signals.sim_swap_hours is None:
        return None
    return signals.sim_swap_hours < hours


def _first_use(signals: Signals) -> bool | None:
    # A relative's device this account never used before: the shape of a family
    # member acting on the owner's behalf from their own phone. The owner borrowing
    # a spouse's phone for the first time looks the same, and is rarer.
    if signals.device_of_relative is False or signals.device_known is True:
        return False
    if signals.device_of_relative is None or signals.device_known is None:
        return None
    return True


def features(signals: Signals) -> tuple[dict[str, Feature], tuple[str, ...]]:
    """The named features policy rules read, and notes on what was ignored.

    Features are derived so that rules stay readable (``new_device``, not
    ``device_known == false``). Behaviour features are ``None`` without consent.
    """
    notes: list[str] = []
    velocity = signals.velocity
    mismatch: bool | None = None
    if signals.ip_country is not None and signals.ip_country != "中国":
        mismatch = True  # abroad or an anonymising network: never the home province
    elif signals.ip_province is not None and signals.phone_home_province is not None:
        mismatch = signals.ip_province != signals.phone_home_province
    values: dict[str, Feature] = {
        "new_device": None if signals.device_known is None else not signals.device_known,
        "device_id_known_format": signals.device_id is not None,
        "device_count": _float(signals.device_count),
        "ip_province_mismatch": mismatch,
        "sim_swap_recent": signals.sim_swap_recent,
        "new_sim": None if signals.network_tenure is None else signals.network_tenure == "0-3",
        "sim_swap_within_72h": _swap_within(signals, 72.0),
        "device_other_people": _float(signals.device_other_people),
        "device_of_relative": signals.device_of_relative,
        "relative_device_first_use": _first_use(signals),
        "attempts_1h": _peak(
            velocity.id_number_1h, velocity.phone_1h, velocity.device_1h, velocity.ip_1h
        ),
        "attempts_24h": _peak(
            velocity.id_number_24h, velocity.phone_24h, velocity.device_24h, velocity.ip_24h
        ),
        "days_since_verification": signals.days_since_verification,
        "fill_seconds": None,
        "paste_identity_fields": None,
        "corrections": None,
        "focus_changes": None,
        "cadence_distance": None,
    }
    if signals.behaviour is not None:
        if signals.consent:
            behaviour = signals.behaviour
            values["fill_seconds"] = behaviour.fill_seconds
            values["paste_identity_fields"] = _float(behaviour.paste_identity_fields)
            values["corrections"] = _float(behaviour.corrections)
            values["focus_changes"] = _float(behaviour.focus_changes)
            values["cadence_distance"] = behaviour.cadence_distance
        else:
            notes.append("BEHAVIOUR_IGNORED_NO_CONSENT")
    return values, tuple(notes)


FEATURES: frozenset[str] = frozenset(features(Signals(action=Action.LOGIN))[0])
"""Names a policy rule may refer to."""
