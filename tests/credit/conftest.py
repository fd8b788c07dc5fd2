from __future__ import annotations

from tests.api.conftest import settings

__all__ = ["settings"]
