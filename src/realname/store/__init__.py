"""The database: SQLAlchemy models, packaged Alembic migrations and thin repositories.

Only :mod:`realname.store.db` is imported here, so importing the package stays cheap
and free of import cycles; models and repositories are imported from their modules.
"""

from realname.store.db import (
    DatabaseNotReady,
    check_ready,
    current_revision,
    make_engine,
    make_session_factory,
    upgrade,
)

__all__ = [
    "DatabaseNotReady",
    "check_ready",
    "current_revision",
    "make_engine",
    "make_session_factory",
    "upgrade",
]
