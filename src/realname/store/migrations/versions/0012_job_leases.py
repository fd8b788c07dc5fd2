"""Job leases: one holder at a time for each singleton background job.

The table behind :mod:`realname.jobs.lease`: API processes sharing a database take
turns at the re-run loop and the ledger checkpointer instead of all running them.
Written by hand and checked against the models by ``tests/store/test_migrations.py``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_job_leases"),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
