from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from realname.verification.scenarios import ScenarioRunner

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


@pytest.fixture(scope="session")
def runner() -> Iterator[ScenarioRunner]:
    with ScenarioRunner() as scenario_runner:
        yield scenario_runner
