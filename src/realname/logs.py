"""Structured JSON logs that cannot carry personal data.

PIPL Art. 51 and JR/T 0171-2020 §7.1 ask that personal information not spread into
places built for other purposes; application logs are the classic leak. Two layers
keep it out: code logs identifiers (request ids, row ids, codes), never values, and
this module's formatter scrubs anything that still looks like personal data — runs
of digits as long as an ID number, phone or bank card, and Han characters (a name in
a log is almost always a leak; realname's own log messages are English) — from the
message and every extra field before a line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: The id of the HTTP request being served, set by the API middleware.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REDACTED = "[redacted]"

# Digit runs of 11 or more characters cover mainland mobiles (11), ID numbers (15/18,
# possibly ending in X) and bank cards (12-19); separators inside are tolerated so that
# "139 1234 5678" or "6222-0200-…" are caught as well.
_LONG_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?\d(?:[\s-]?\d){10,18}[Xx]?(?![0-9A-Za-z])"
)
# CJK unified ideographs (incl. extension A and compatibility) and the name separator.
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u00b7]+")

# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub(text: str) -> str:
    """Replace whatever looks like personal data in ``text`` with a marker."""
    return _HAN_RUN.sub(REDACTED, _LONG_NUMBER.sub(REDACTED, text))


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_scrub_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _scrub_value(value)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type is useful; its message and traceback may hold values.
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


class ScrubFilter(logging.Filter):
    """Scrubs records for handlers that do not use :class:`JsonFormatter` (e.g. uvicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, SQLAlchemy's) through one scrubbing JSON handler."""
    handler = logging.StreamHandler(sys.stderr)
    # The JSON formatter scrubs every line itself; ScrubFilter is for other handlers.
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
