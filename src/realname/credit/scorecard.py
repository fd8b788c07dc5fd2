"""The scorecard artefact: bins, points and calibration as plain JSON; no ML library to score.

Points follow the usual scaling (Siddiqi, *Credit Risk Scorecards*, ch. 6): a score of
``base_points`` at good:bad odds of ``base_odds``, and ``pdo`` more points each time
the odds double — by default 600 points at 50:1 and 20 points to double.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from realname.credit.features import FeatureValue

ARTEFACT_SCHEMA = 1
MISSING = "Missing"


@dataclass(frozen=True, slots=True)
class Scaling:
    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def points(self, odds_good: float) -> float:
        """The score for good:bad odds ``odds_good``."""
        return self.offset + self.factor * math.log(odds_good)

    def odds(self, points: float) -> float:
        """The good:bad odds a score stands for (the inverse of :meth:`points`)."""
        return math.exp((points - self.offset) / self.factor)


@dataclass(frozen=True, slots=True)
class Bin:
    """One bin: an interval ``[lower, upper)``, a group of categories, or Missing."""

    label: str
    points: int
    woe: float
    count: int
    event_rate: float
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Characteristic:
    """A binned feature; the last bin is always Missing (also unknown categories)."""

    name: str
    kind: str
    coefficient: float
    bins: tuple[Bin, ...]
    splits: tuple[float, ...] = ()

    def bin_index(self, value: FeatureValue) -> int:
        missing = len(self.bins) - 1
        if value is None:
            return missing
        if self.kind == "numeric":
            if isinstance(value, str) or math.isnan(value):
                return missing
            # optbinning's intervals are closed on the left: x < split goes below.
            index = 0
            while index < len(self.splits) and value >= self.splits[index]:
                index += 1
            return index
        for index, group in enumerate(self.bins[:-1]):
            if str(value) in group.categories:
                return index
        return missing

    @property
    def max_points(self) -> int:
        populated = [b.points for b in self.bins if b.count > 0] or [b.points for b in self.bins]
        return max(populated)


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one characteristic gave an applicant, and what it could have given."""

    characteristic: str
    bin_index: int
    bin_label: str
    points: int
    max_points: int

    @property
    def points_lost(self) -> int:
        return self.max_points - self.points


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    pd: float
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class Scorecard:
    version: str
    scaling: Scaling
    characteristics: tuple[Characteristic, ...]
    #: Platt calibration of the score: PD = 1 / (1 + exp(-(a + b·score))).
    calibration: tuple[float, float]
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def probability(self, score: float) -> float:
        a, b = self.calibration
        return 1.0 / (1.0 + math.exp(-(a + b * score)))

    def score(self, features: dict[str, FeatureValue]) -> Scored:
        contributions = []
        for characteristic in self.characteristics:
            index = characteristic.bin_index(features.get(characteristic.name))
            chosen = characteristic.bins[index]
            contributions.append(
                Contribution(
                    characteristic=characteristic.name,
                    bin_index=index,
                    bin_label=chosen.label,
                    points=chosen.points,
                    max_points=characteristic.max_points,
                )
            )
        total = sum(c.points for c in contributions)
        return Scored(score=total, pd=self.probability(total), contributions=tuple(contributions))

    def score_batch(self, columns: Mapping[str, Sequence[FeatureValue]]) -> np.ndarray:
        """Integer scores of many applicants at once, column by column (numpy).

        Same bins as :meth:`score` (a test checks they agree row by row): numeric
        characteristics by ``searchsorted`` on the split points (left-closed
        intervals, like optbinning's), categorical ones by a category → bin table;
        missing or unknown values fall in the last (Missing) bin.
        """
        size = len(next(iter(columns.values()))) if columns else 0
        total = np.zeros(size, dtype=np.int64)
        for characteristic in self.characteristics:
            points = np.array([b.points for b in characteristic.bins], dtype=np.int64)
            missing = len(characteristic.bins) - 1
            values = columns.get(characteristic.name, [None] * size)
            if characteristic.kind == "numeric":
                numbers = np.array(
                    [np.nan if v is None or isinstance(v, str) else v for v in values],
                    dtype=np.float64,
                )
                index = np.searchsorted(
                    np.array(characteristic.splits, dtype=np.float64), numbers, side="right"
                )
                index[np.isnan(numbers)] = missing
            else:
                table = {
                    category: position
                    for position, group in enumerate(characteristic.bins[:-1])
                    for category in group.categories
                }
                index = np.array(
                    [table.get(str(v), missing) if v is not None else missing for v in values],
                    dtype=np.int64,
                )
            total += points[index]
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": ARTEFACT_SCHEMA,
            "version": self.version,
            "scaling": {
                "base_points": self.scaling.base_points,
                "base_odds": self.scaling.base_odds,
                "pdo": self.scaling.pdo,
            },
            "calibration": {"a": self.calibration[0], "b": self.calibration[1]},
            "characteristics": [
                {
                    "name": c.name,
                    "kind": c.kind,
                    "coefficient": c.coefficient,
                    "splits": list(c.splits),
                    "bins": [
                        {
                            "label": b.label,
                            "points": b.points,
                            "woe": b.woe,
                            "count": b.count,
                            "event_rate": b.event_rate,
                            "categories": list(b.categories),
                        }
                        for b in c.bins
                    ],
                }
                for c in self.characteristics
            ],
            "data": self.data,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Scorecard:
        if raw.get("schema") != ARTEFACT_SCHEMA:
            raise ValueError("unsupported scorecard artefact schema")
        return cls(
            version=str(raw["version"]),
            scaling=Scaling(**raw["scaling"]),
            calibration=(float(raw["calibration"]["a"]), float(raw["calibration"]["b"])),
            characteristics=tuple(
                Characteristic(
                    name=c["name"],
                    kind=c["kind"],
                    coefficient=float(c["coefficient"]),
                    splits=tuple(float(s) for s in c["splits"]),
                    bins=tuple(
                        Bin(
                            label=b["label"],
                            points=int(b["points"]),
                            woe=float(b["woe"]),
                            count=int(b["count"]),
                            event_rate=float(b["event_rate"]),
                            categories=tuple(b["categories"]),
                        )
                        for b in c["bins"]
                    ),
                )
                for c in raw["characteristics"]
            ),
            data=dict(raw.get("data", {})),
            metrics=dict(raw.get("metrics", {})),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def load_scorecard(path: Path) -> Scorecard:
    return Scorecard.from_json(json.loads(path.read_text(encoding="utf-8")))


@cache
def default_scorecard() -> Scorecard:
    """The artefact shipped in the package, so the service needs no training at start."""
    text = resources.files("realname.credit").joinpath("data/scorecard.json").read_text("utf-8")
    return Scorecard.from_json(json.loads(text))
