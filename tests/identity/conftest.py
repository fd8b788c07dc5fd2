"""Shared Hypothesis strategies for the identity tests."""

from __future__ import annotations

import datetime

from hypothesis import strategies as st
from stdnum import luhn

from realname.identity import bank_card, id_number

#: The fixed "today" of every test, so that results do not depend on the clock.
TODAY = datetime.date(2025, 6, 1)

regions = st.sampled_from(id_number.known_region_codes())
birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    return id_number.build(draw(regions), draw(birth_dates), draw(sequences))


@st.composite
def mobile_numbers(draw: st.DrawFn) -> str:
    """11-digit numbers from blocks of the packaged table that libphonenumber accepts."""
    prefix = draw(st.sampled_from(["139", "186", "189", "192", "1703", "165", "150", "199"]))
    rest = draw(st.text("0123456789", min_size=11 - len(prefix), max_size=11 - len(prefix)))
    return prefix + rest


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """Luhn-valid card numbers whose BIN is in the packaged table."""
    bins = sorted(b for b in bank_card._bins() if len(b) >= 6)
    prefix = draw(st.sampled_from(bins))
    length = draw(st.integers(min_value=max(len(prefix) + 1, 16), max_value=19))
    body = prefix + draw(
        st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1)
    )
    return body + luhn.calc_check_digit(body)


def leaks(message: str, value: str, window: int = 4) -> bool:
    """Whether ``message`` contains any ``window`` consecutive characters of ``value``."""
    return any(value[i : i + window] in message for i in range(len(value) - window + 1))
