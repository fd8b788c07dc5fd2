"""The examples in the module docstrings are part of the documentation; keep them true."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from realname.identity import bank_card, id_number, name, phone


@pytest.mark.parametrize("module", [id_number, name, phone, bank_card])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
