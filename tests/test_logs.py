"""The JSON log formatter scrubs anything that looks like personal data."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.logs import REDACTED, JsonFormatter, scrub


@pytest.mark.parametrize(
    "text",
    [
        "id 11010519491231002X failed",
        "id 11010519491231002x failed",
        "old id 110105491231002",
        "phone 13912345678",
        "phone +86 139 1234 5678",
        "phone 139-1234-5678",
        "card 6222020000000000004",
        "card 6222 0200 0000 0000 004",
        "name 王小明",
        "name 阿依古丽·买买提",
    ],
)
def test_scrub_removes_personal_data(text: str) -> None:
    scrubbed = scrub(text)
    assert REDACTED in scrubbed
    for token in ("11010519491231002", "110105491231002", "1234", "0200", "王", "阿依"):
        assert token not in scrubbed


def test_scrub_keeps_ordinary_text() -> None:
    text = "request served status=200 duration_ms=12.5 route=/v1/tenant"
    assert scrub(text) == text


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_every_mobile_number_is_scrubbed(number: str) -> None:
    assert number not in scrub(f"sms to {number} sent")


def test_formatter_scrubs_message_and_extras() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "lookup %s", ("13912345678",), None)
    record.person_name = "王小明"
    record.status = 200
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == f"lookup {REDACTED}"
    assert line["person_name"] == REDACTED
    assert line["status"] == 200
    assert line["level"] == "info"
    assert line["ts"].endswith("+00:00")
