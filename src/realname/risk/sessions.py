"""Labelled sessions: the JSON-lines schema, a reader that refuses bad files, a generator.

One line is one request: ``{"id": "...", "label": "...", "signals": {...}}`` with
``signals`` as :class:`realname.risk.signals.Signals` and ``label`` one of
:class:`Label`. The schema is public (``docs/risk-sessions-schema.md``) so anyone
can replay their own traffic through :func:`realname.risk.evaluation.evaluate`.

The generator draws signals from distributions per label that follow how each
attack works (a SIM-swap takeover has a replaced SIM and a new device; credential
stuffing is fast, repeated and from elsewhere; a relative knows the family's phone
but not the form). The numbers are assumptions, written here to be read and
argued with, not measurements of real traffic.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from realname.risk.errors import SessionsInvalid
from realname.risk.signals import Action, Signals


class Label(StrEnum):
    LEGIT = "legit"
    SIM_SWAP_TAKEOVER = "sim_swap_takeover"
    SYNTHETIC_IDENTITY = "synthetic_identity"
    CREDENTIAL_STUFFING = "credential_stuffing"
    RELATIVE_MISUSE = "relative_misuse"


class LabelledSession(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    label: Label
    signals: Signals


DEFAULT_MIX: dict[Label, float] = {
    Label.LEGIT: 0.80,
    Label.SIM_SWAP_TAKEOVER: 0.05,
    Label.SYNTHETIC_IDENTITY: 0.05,
    Label.CREDENTIAL_STUFFING: 0.05,
    Label.RELATIVE_MISUSE: 0.05,
}

# Addresses the shipped ip2region data places in these provinces (checked in tests).
SAMPLE_IPS: dict[str, str] = {
    "广东省": "202.96.128.86",
    "江苏省": "180.101.49.11",
    "北京市": "202.106.0.20",
    "上海市": "202.96.209.133",
    "浙江省": "223.5.5.5",
    "天津市": "60.30.1.1",
    "吉林省": "202.98.0.68",
}
ABROAD_IP = "8.8.8.8"
_PROVINCES = list(SAMPLE_IPS)


def read_sessions(lines: Iterable[str]) -> list[LabelledSession]:
    """Parse every line first; the first bad one raises :class:`SessionsInvalid`
    naming its line number and field, so nothing is evaluated half-way."""
    sessions: list[LabelledSession] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            raise SessionsInvalid(f"line {number}: not JSON", line=number, field="(line)") from None
        try:
            sessions.append(LabelledSession.model_validate(data))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(line)"
            raise SessionsInvalid(
                f"line {number}: {field}: {first['msg']}", line=number, field=field
            ) from None
    return sessions


def load_sessions(path: Path) -> list[LabelledSession]:
    with path.open(encoding="utf-8") as handle:
        return read_sessions(handle)


def write_sessions(sessions: Iterable[LabelledSession], out: TextIO) -> int:
    count = 0
    for session in sessions:
        out.write(session.model_dump_json(exclude_none=True) + "\n")
        count += 1
    return count


def _device(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _where(rng: random.Random, home: str, p_away: float, p_abroad: float = 0.0) -> dict[str, Any]:
    draw = rng.random()
    if draw < p_abroad:
        return {"ip": ABROAD_IP, "ip_country": "美国"}
    province = home
    if draw < p_abroad + p_away:
        province = rng.choice([name for name in _PROVINCES if name != home])
    return {"ip": SAMPLE_IPS[province], "ip_country": "中国", "ip_province": province}


def _tenure(rng: random.Random, weights: tuple[float, float, float, float, float]) -> str:
    return rng.choices(["0-3", "3-6", "6-12", "12-24", "24+"], weights)[0]


def _velocity(rng: random.Random, hour: tuple[int, int], day: tuple[int, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in ("id_number", "phone", "device", "ip"):
        counts[f"{key}_1h"] = rng.randint(*hour)
        counts[f"{key}_24h"] = counts[f"{key}_1h"] + rng.randint(*day)
    return counts


def _behaviour(
    rng: random.Random,
    fill: tuple[float, float],
    p_paste: float,
    corrections: tuple[int, int],
    cadence: float | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "fill_seconds": round(rng.uniform(*fill), 1),
        "paste_identity_fields": 1 if rng.random() < p_paste else 0,
        "corrections": rng.randint(*corrections),
        "focus_changes": rng.randint(0, 6),
    }
    if cadence is not None:
        out["cadence_distance"] = round(cadence, 2)
    return out


def _cadence(rng: random.Random, mean: float, spread: float, p_profile: float) -> float | None:
    """Distance from the owner's typing profile in standard deviations, ``None`` when
    the account has no profile yet (new accounts, or never consented before)."""
    if rng.random() >= p_profile:
        return None
    return abs(rng.gauss(mean, spread))


def _swap(rng: random.Random, p_swap: float, mean_hours: float) -> dict[str, Any]:
    """The carrier's SIM-swap answer: the flag, and for a swap its age in hours
    (exponential, capped at the 30 days the flag covers)."""
    if rng.random() >= p_swap:
        return {"sim_swap_recent": False}
    return {
        "sim_swap_recent": True,
        "sim_swap_hours": round(min(rng.expovariate(1 / mean_hours), 720.0), 1),
    }


def _legit(rng: random.Random) -> dict[str, Any]:
    home = rng.choice(_PROVINCES)
    known = rng.random() < 0.95  # most requests come from the usual phone
    # A family tablet or a spouse's phone: bound to a relative's account as well.
    family_device = rng.random() < 0.04
    others = rng.choices([0, 1, 2], [0.93, 0.06, 0.01])[0]  # second-hand, shared
    profile = 0.9  # most returning users have a typing history
    cadence = _cadence(rng, 0.0, 1.0 if rng.random() < 0.9 else 1.8, profile)  # bad days too
    return {
        "action": rng.choices(list(Action), [0.45, 0.10, 0.30, 0.05, 0.10])[0],
        "device_id": _device(rng),
        "device_known": known,
        "device_count": rng.choices([1, 2, 3, 4], [0.6, 0.3, 0.08, 0.02])[0],
        "device_other_people": max(others, 1) if family_device else others,
        "device_of_relative": family_device,
        **_where(rng, home, p_away=0.06),  # travel, migrant work
        "phone_home_province": home,
        **_swap(rng, 0.01, mean_hours=240.0),  # lost phones happen, noticed days later
        "network_tenure": _tenure(rng, (0.03, 0.05, 0.10, 0.20, 0.62)),
        "velocity": _velocity(rng, (0, 2), (0, 3)),
        "days_since_verification": round(rng.expovariate(1 / 40), 1),
        "consent": rng.random() < 0.7,
        "behaviour": _behaviour(rng, (12, 150), 0.05, (0, 4), cadence),
    }


def _sim_swap(rng: random.Random) -> dict[str, Any]:
    home = rng.choice(_PROVINCES)
    return {
        "action": rng.choices(list(Action), [0.10, 0.0, 0.40, 0.20, 0.30])[0],
        "device_id": _device(rng),
        "device_known": rng.random() < 0.05,
        "device_count": rng.randint(2, 5),
        # rings reuse their handsets across victims; a fresh phone for some
        "device_other_people": rng.choices([0, 1, 2, 4, 8], [0.5, 0.2, 0.15, 0.1, 0.05])[0],
        "device_of_relative": rng.random() < 0.01,
        **_where(rng, home, p_away=0.55, p_abroad=0.05),
        "phone_home_province": home,
        # carrier data lags for a few; the rest act within hours of the swap
        **_swap(rng, 0.97, mean_hours=18.0),
        "network_tenure": _tenure(rng, (0.05, 0.05, 0.10, 0.20, 0.60)),
        "velocity": _velocity(rng, (1, 4), (0, 6)),
        "days_since_verification": round(rng.expovariate(1 / 90), 1),
        "consent": rng.random() < 0.5,
        "behaviour": _behaviour(rng, (5, 60), 0.5, (0, 3), _cadence(rng, 3.5, 1.2, 0.9)),
    }


def _synthetic(rng: random.Random) -> dict[str, Any]:
    home = rng.choice(_PROVINCES)
    return {
        "action": rng.choices(list(Action), [0.0, 0.6, 0.4, 0.0, 0.0])[0],
        "device_id": _device(rng) if rng.random() < 0.8 else "emulator",
        "device_known": rng.random() < 0.2,
        "device_count": rng.randint(1, 3),
        "device_other_people": rng.choices([0, 1, 3, 10], [0.3, 0.2, 0.3, 0.2])[0],  # farms
        "device_of_relative": False,
        **_where(rng, home, p_away=0.5),
        "phone_home_province": home,
        "sim_swap_recent": False,
        "network_tenure": _tenure(rng, (0.75, 0.15, 0.05, 0.03, 0.02)),  # SIMs bought for it
        "velocity": _velocity(rng, (2, 12), (2, 20)),  # device farms reuse devices and IPs
        "consent": rng.random() < 0.6,
        # a made-up person has no earlier sessions to compare with, mostly
        "behaviour": _behaviour(rng, (2, 40), 0.8, (0, 2), _cadence(rng, 2.5, 1.5, 0.2)),
    }


def _stuffing(rng: random.Random) -> dict[str, Any]:
    home = rng.choice(_PROVINCES)
    return {
        "action": Action.LOGIN if rng.random() < 0.9 else Action.CREDIT_DRAWDOWN,
        "device_id": _device(rng) if rng.random() < 0.6 else "curl/8.0",
        "device_known": rng.random() < 0.02,
        "device_count": rng.randint(1, 6),
        "device_other_people": rng.randint(0, 40),  # one client for a whole combo list
        "device_of_relative": False,
        **_where(rng, home, p_away=0.6, p_abroad=0.25),
        "phone_home_province": home,
        "sim_swap_recent": False,
        "network_tenure": _tenure(rng, (0.03, 0.05, 0.10, 0.20, 0.62)),
        "velocity": _velocity(rng, (3, 60), (5, 200)),
        "days_since_verification": round(rng.expovariate(1 / 60), 1),
        "consent": rng.random() < 0.9,  # scripts tick every box
        "behaviour": _behaviour(rng, (0.2, 3.5), 0.9, (0, 0), _cadence(rng, 6.0, 1.5, 0.9)),
    }


def _relative(rng: random.Random) -> dict[str, Any]:
    home = rng.choice(_PROVINCES)
    # Which phone the relative uses: their own (bound to their own account, which
    # lists the owner as a contact or shares the household), the family phone the
    # owner uses too, or a borrowed or new one nobody has seen.
    where = rng.choices(["own", "family", "other"], [0.55, 0.25, 0.20])[0]
    return {
        "action": rng.choices(list(Action), [0.10, 0.0, 0.55, 0.05, 0.30])[0],
        "device_id": _device(rng),
        "device_known": where == "family",
        "device_count": rng.randint(1, 4),
        "device_other_people": 0 if where == "other" else rng.choice([1, 1, 2]),
        "device_of_relative": where != "other",
        **_where(rng, home, p_away=0.15),
        "phone_home_province": home,
        # a replacement card for the old number, well before the draw-down sometimes
        **_swap(rng, 0.3, mean_hours=120.0),
        "network_tenure": _tenure(rng, (0.03, 0.05, 0.10, 0.20, 0.62)),
        "velocity": _velocity(rng, (1, 3), (0, 6)),
        "days_since_verification": round(rng.uniform(60, 900), 1),  # the owner's old check
        "consent": rng.random() < 0.7,
        # copies from the ID card, and types like themselves, not like the owner
        "behaviour": _behaviour(rng, (40, 400), 0.6, (3, 15), _cadence(rng, 3.5, 1.2, 0.9)),
    }


_GENERATORS: dict[Label, Callable[[random.Random], dict[str, Any]]] = {
    Label.LEGIT: _legit,
    Label.SIM_SWAP_TAKEOVER: _sim_swap,
    Label.SYNTHETIC_IDENTITY: _synthetic,
    Label.CREDENTIAL_STUFFING: _stuffing,
    Label.RELATIVE_MISUSE: _relative,
}


def generate_sessions(
    n: int, seed: int, mix: dict[Label, float] | None = None
) -> Iterator[LabelledSession]:
    """``n`` labelled sessions drawn with ``seed``: the same arguments, the same sessions."""
    # Reproducible simulation data, not secrets: a seeded PRNG is the point.
    rng = random.Random(seed)  # noqa: S311
    weights = mix or DEFAULT_MIX
    labels = list(weights)
    for index in range(n):
        label = rng.choices(labels, [weights[label] for label in labels])[0]
        signals = Signals.model_validate(_GENERATORS[label](rng))
        yield LabelledSession(id=f"s{seed}-{index}", label=label, signals=signals)
