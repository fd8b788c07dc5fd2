from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.authorities.http.support import RunningServer, running_server


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """One HTTP sandbox per test module, serving every scenario of public.yaml."""
    with running_server() as running:
        yield running
