from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # The sandbox sleeps with asyncio; the suite runs on the asyncio backend only.
    return "asyncio"
