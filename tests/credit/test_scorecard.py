"""Scorecard: points scaling known answers, monotone bins, calibration, the shipped artefact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realname.credit import metrics
from realname.credit.scorecard import Scaling, default_scorecard
from realname.credit.training import Trained, train


@pytest.fixture(scope="module")
def trained() -> Trained:
    return train()


def test_points_scaling_known_answers() -> None:
    scaling = Scaling()
    assert scaling.points(50) == pytest.approx(600)
    assert scaling.points(100) == pytest.approx(620)
    assert scaling.points(25) == pytest.approx(580)
    assert scaling.factor == pytest.approx(20 / math.log(2))
    assert scaling.odds(640) == pytest.approx(200)


def test_metrics_known_answers() -> None:
    y = np.array([0, 0, 1, 1])
    assert metrics.auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert metrics.auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert metrics.ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    same = np.linspace(0, 1, 100)
    assert metrics.psi(same, same) == pytest.approx(0.0)


def test_held_out_metrics_are_sane(trained: Trained) -> None:
    test = trained.scorecard.metrics["test"]
    assert test["auc"] > 0.80
    assert test["ks"] > 0.45
    assert test["gini"] == pytest.approx(2 * test["auc"] - 1, abs=1e-3)
    assert trained.scorecard.metrics["psi_train_test"] < 0.1


def test_numeric_bins_are_monotone(trained: Trained) -> None:
    for characteristic in trained.scorecard.characteristics:
        if characteristic.kind != "numeric":
            continue
        rates = [b.event_rate for b in characteristic.bins[:-1] if b.count > 0]
        steps = np.sign(np.diff(rates))
        assert np.all(steps >= 0) or np.all(steps <= 0), characteristic.name
        # Points run against the bad rate: a riskier bin never earns more.
        points = [b.points for b in characteristic.bins[:-1] if b.count > 0]
        order = np.argsort(rates, kind="stable")
        assert np.all(np.diff(np.array(points)[order]) <= 0), characteristic.name


def test_pd_is_calibrated_overall_and_falls_with_score(trained: Trained) -> None:
    card = trained.scorecard
    table = card.metrics["calibration_test"]
    predicted = sum(r["pd_mean"] * r["count"] for r in table) / sum(r["count"] for r in table)
    assert predicted == pytest.approx(card.metrics["test"]["bad_rate"], abs=0.03)
    assert card.probability(650) < card.probability(550) < card.probability(450)
    observed = [r["bad_rate"] for r in table]
    assert observed[0] < observed[4] < observed[8]


def test_shipped_artefact_matches_the_training_code(trained: Trained) -> None:
    shipped = default_scorecard()
    assert shipped.version == trained.scorecard.version
    assert shipped.to_json() == trained.scorecard.to_json()
    assert shipped.data["rows"] == 4454


def test_batch_scores_equal_one_by_one_scores_on_the_real_data() -> None:
    from realname.credit.scorecard import default_scorecard
    from realname.credit.training import characteristics_frame, load_credit_data

    x, _ = characteristics_frame(load_credit_data())
    rows = x.head(600).to_dict("records")
    columns = {name: [row.get(name) for row in rows] for name in x.columns}
    clean = {
        name: [None if (isinstance(v, float) and v != v) else v for v in values]
        for name, values in columns.items()
    }
    card = default_scorecard()
    batch = card.score_batch(clean)
    single = [card.score({k: clean[k][i] for k in clean}).score for i in range(len(rows))]
    assert batch.tolist() == single
