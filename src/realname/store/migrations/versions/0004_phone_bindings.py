"""Phone bindings: the history of the phones an account was bound to (换绑).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_bindings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("phone_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("phone_blind_index", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_phone_bindings"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_phone_bindings_account_id_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_phone_bindings_account_id", "phone_bindings", ["account_id"])
    op.create_index("ix_phone_bindings_phone_blind_index", "phone_bindings", ["phone_blind_index"])


def downgrade() -> None:
    op.drop_index("ix_phone_bindings_phone_blind_index", table_name="phone_bindings")
    op.drop_index("ix_phone_bindings_account_id", table_name="phone_bindings")
    op.drop_table("phone_bindings")
