"""Job tests reuse the API fixtures (a migrated SQLite store and settings)."""

from tests.api.conftest import client, settings

__all__ = ["client", "settings"]
