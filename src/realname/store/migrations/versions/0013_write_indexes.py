"""Fewer index entries written per verification: indexes no query needs are dropped.

Every row a verification inserts writes one entry in each index of its table, and
each entry dirties a B-tree page that the commit then writes (in SQLite's WAL, a
whole page per page touched; bench/bench_writes.py counts them). These indexes were
written on every verification and read by nothing:

- ``ix_verification_checks_tenant_id``: checks are sought by account
  (``ix_verification_checks_account_created``); reports by period scan anyway.
- ``ix_webhook_deliveries_tenant_id``: deliveries are sought by status and due time
  (the dispatcher) or by endpoint (listing, cancelling).
- ``uq_audit_log_hash``: no query seeks an entry by its hash, and a hash cannot
  repeat — ``seq``, the primary key that keeps the chain from forking, is hashed.
- ``ix_identity_elements_kind_blind_index`` becomes partial (``blind_index IS NOT
  NULL``): names carry no blind index and are never looked up, so they need no entry.
  The holder lookup's ``blind_index = :index`` implies the condition, so both SQLite
  and PostgreSQL still use the index for it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEX = 64
_BLIND_INDEXED = "blind_index IS NOT NULL"


def _audit_log(unique_hash: bool) -> sa.Table:
    """``audit_log`` as it stands, for SQLite's copy-and-move (also offline, where
    there is no database to reflect it from)."""
    constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint("seq", name="pk_audit_log")]
    if unique_hash:
        constraints.append(sa.UniqueConstraint("hash", name="uq_audit_log_hash"))
    return sa.Table(
        "audit_log",
        sa.MetaData(),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(HEX), nullable=False),
        sa.Column("hash", sa.String(HEX), nullable=False),
        *constraints,
    )


def upgrade() -> None:
    op.drop_index("ix_verification_checks_tenant_id", table_name="verification_checks")
    op.drop_index("ix_webhook_deliveries_tenant_id", table_name="webhook_deliveries")
    op.drop_index("ix_identity_elements_kind_blind_index", table_name="identity_elements")
    op.create_index(
        "ix_identity_elements_kind_blind_index",
        "identity_elements",
        ["kind", "blind_index"],
        sqlite_where=sa.text(_BLIND_INDEXED),
        postgresql_where=sa.text(_BLIND_INDEXED),
    )
    with op.batch_alter_table("audit_log", copy_from=_audit_log(unique_hash=True)) as batch:
        batch.drop_constraint("uq_audit_log_hash", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("audit_log", copy_from=_audit_log(unique_hash=False)) as batch:
        batch.create_unique_constraint("uq_audit_log_hash", ["hash"])
    op.drop_index("ix_identity_elements_kind_blind_index", table_name="identity_elements")
    op.create_index(
        "ix_identity_elements_kind_blind_index", "identity_elements", ["kind", "blind_index"]
    )
    op.create_index("ix_webhook_deliveries_tenant_id", "webhook_deliveries", ["tenant_id"])
    op.create_index("ix_verification_checks_tenant_id", "verification_checks", ["tenant_id"])
