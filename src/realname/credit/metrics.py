"""Discrimination, calibration and stability measures, in plain numpy.

AUC is the Mann–Whitney statistic; Gini = 2·AUC − 1; KS is the largest gap between
the cumulative score distributions of bads and goods; PSI = Σ (a − e)·ln(a / e) over
score bands fixed on the expected (training) population.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]


def auc(y_bad: IntArray, risk: FloatArray) -> float:
    """P(a random bad has higher ``risk`` than a random good), ties counted half."""
    # Average ranks, so tied scores count half (what scipy's rankdata does).
    _, inverse, counts = np.unique(risk, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]
    bads = int(y_bad.sum())
    goods = len(y_bad) - bads
    return float((ranks[y_bad == 1].sum() - bads * (bads + 1) / 2) / (bads * goods))


def gini(y_bad: IntArray, risk: FloatArray) -> float:
    return 2.0 * auc(y_bad, risk) - 1.0


def ks(y_bad: IntArray, risk: FloatArray) -> float:
    order = np.argsort(-risk, kind="stable")
    sorted_bad = y_bad[order]
    cum_bad = np.cumsum(sorted_bad) / max(sorted_bad.sum(), 1)
    cum_good = np.cumsum(1 - sorted_bad) / max((1 - sorted_bad).sum(), 1)
    return float(np.max(np.abs(cum_bad - cum_good)))


def calibration_table(y_bad: IntArray, pd: FloatArray, groups: int = 10) -> list[dict[str, Any]]:
    """Predicted against observed bad rate per PD decile (equal-count groups)."""
    order = np.argsort(pd, kind="stable")
    rows = []
    for index, chunk in enumerate(np.array_split(order, groups)):
        rows.append(
            {
                "group": index + 1,
                "count": len(chunk),
                "pd_mean": round(float(pd[chunk].mean()), 4),
                "bad_rate": round(float(y_bad[chunk].mean()), 4),
            }
        )
    return rows


def psi(expected: FloatArray, actual: FloatArray, bands: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (score deciles)."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bands + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    # A floor keeps an empty band from making the index infinite.
    e_share = np.maximum(e / e.sum(), 1e-6)
    a_share = np.maximum(a / a.sum(), 1e-6)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))
