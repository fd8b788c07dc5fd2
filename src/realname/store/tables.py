"""A model's :class:`~sqlalchemy.Table`, for statements built once and run as Core.

The hot paths (a verification's reads and writes) prebuild their statements at import
with bind parameters and run them without the ORM's unit of work: building a
statement and flushing objects cost more CPU than the SQL itself (bench/bench_api.py).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from realname.store.models import Base


def table_of(model: type[Base]) -> Table:
    """``model.__table__``, typed as the :class:`Table` it is (SQLAlchemy types it as a
    ``FromClause``, which ``insert``/``update``/``delete`` do not accept)."""
    return cast(Table, model.__table__)
