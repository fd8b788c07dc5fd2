"""Shared fixtures: the engine (models load once per session) and the test images.

Every image comes from the package's own ``data/`` folder, the same files the
sandbox ships; nothing is generated from randomness that is not seeded.
"""

from __future__ import annotations

import pytest

from realname.authorities.face import DlibEngine, default_engine
from realname.authorities.face.images import RGBImage, to_rgb
from realname.authorities.face.portraits import data_bytes


@pytest.fixture(scope="session")
def engine() -> DlibEngine:
    """The process-wide engine, its models loaded once for the whole session."""
    built = default_engine()
    built.warm_up()
    return built


@pytest.fixture(scope="session")
def images() -> dict[str, RGBImage]:
    """The data images by stem: obama, obama2, obama3, obama_partial_face, biden, astronaut."""
    names = ("obama", "obama2", "obama3", "obama_partial_face", "biden", "astronaut")
    return {name: to_rgb(data_bytes(f"{name}.jpg")) for name in names}
