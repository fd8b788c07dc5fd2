from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from realname.authorities.face import LocalFaceEngine, face_capture
from realname.verification.scenarios import FaceSupport, ScenarioRunner

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


@pytest.fixture(scope="session")
def runner() -> Iterator[ScenarioRunner]:
    face = FaceSupport(engine=LocalFaceEngine(), capture=face_capture)
    with ScenarioRunner(face=face) as scenario_runner:
        yield scenario_runner
