"""Face sessions: active-liveness challenges that survive across API processes.

One row per challenge (random actions, SHA-256 of the nonce, expiry), spent by one
guarded update; the measurements of its one upload; optionally the frames,
vault-encrypted, until a configured retention period ends.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "face_sessions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        _ts("completed_at", nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("result_id", sa.String(36), nullable=True),
        sa.Column("frames_ciphertext", sa.LargeBinary(), nullable=True),
        _ts("purge_after", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_face_sessions"),
        sa.UniqueConstraint("nonce_hash", name="uq_face_sessions_nonce_hash"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_face_sessions_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_face_sessions_account_id_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_face_sessions_account_created", "face_sessions", ["account_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_face_sessions_account_created", table_name="face_sessions")
    op.drop_table("face_sessions")
