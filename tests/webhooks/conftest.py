from __future__ import annotations

from datetime import UTC, datetime

import pytest

from realname.privacy.keys import Keyring
from realname.webhooks.sealing import SecretBox

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox.from_keyring(Keyring.generate())
