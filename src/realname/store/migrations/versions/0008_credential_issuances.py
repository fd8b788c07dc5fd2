"""Credential issuances: which credential hash belongs to which account and status entry.

Revocation looked issued credentials up in the audit log; this table makes it a
keyed lookup and lets every credential of an account be revoked (re-issued number,
erasure).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credential_issuances",
        sa.Column("credential_hash", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("list_id", sa.String(36), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("credential_hash", name="pk_credential_issuances"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_credential_issuances_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_credential_issuances_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["credential_status_lists.id"],
            name="fk_credential_issuances_list_id_credential_status_lists",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_credential_issuances_tenant_id", "credential_issuances", ["tenant_id"]
    )
    op.create_index(
        "ix_credential_issuances_account_id", "credential_issuances", ["account_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_credential_issuances_account_id", table_name="credential_issuances")
    op.drop_index("ix_credential_issuances_tenant_id", table_name="credential_issuances")
    op.drop_table("credential_issuances")
