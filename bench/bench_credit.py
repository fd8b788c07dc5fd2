"""Scoring throughput: one application at a time vs. a batch, on credit_data's rows.

The issue asks for at least 10,000 applications per second in batch. The baseline in
the same run is the one-by-one scorer (what the API uses per application); the
batch is the same rows repeated to 100,000 applications.

Run: ``python bench/bench_credit.py``
"""

from __future__ import annotations

import time

from realname.credit.scorecard import default_scorecard
from realname.credit.training import characteristics_frame, load_credit_data

BATCH = 100_000


def main() -> None:
    x, _ = characteristics_frame(load_credit_data())
    rows = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        for row in x.to_dict("records")
    ]
    card = default_scorecard()

    started = time.perf_counter()
    for row in rows:
        card.score(row)
    single = len(rows) / (time.perf_counter() - started)

    repeated = (rows * (BATCH // len(rows) + 1))[:BATCH]
    columns = {name: [row.get(name) for row in repeated] for name in x.columns}
    started = time.perf_counter()
    card.score_batch(columns)
    batch = BATCH / (time.perf_counter() - started)

    print(f"one by one   {single:>12,.0f} applications/s  ({len(rows):,} rows)")
    print(f"batch        {batch:>12,.0f} applications/s  ({BATCH:,} rows)")
    print(
        f"ratio batch/one-by-one {batch / single:.1f}x; goal >= 10,000/s in batch: "
        f"{'MET' if batch >= 10_000 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
