"""Reading the CSV tables packaged in ``realname/identity/data/``.

The tables start with ``#`` comment lines that name their source; the first other line
is the CSV header.
"""

from __future__ import annotations

import csv
from importlib import resources


def read_table(filename: str) -> list[dict[str, str]]:
    """Rows of a packaged table as dictionaries keyed by the header."""
    path = resources.files("realname.identity").joinpath("data", filename)
    with path.open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))
