"""Credit applications: the decision each applicant was given, kept for review.

An automated decline offers a human review (PIPL Art. 24); the review needs the
decision it reviews, and the operations funnel needs credit decisions to count.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_applications",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("limit_fen", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("pd_bp", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(2), nullable=False),
        sa.Column("level_required", sa.String(2), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("review_state", sa.String(16), nullable=False),
        sa.Column("review_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_case_id", sa.String(36), nullable=True),
        sa.Column("review_outcome", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_credit_applications"),
        sa.CheckConstraint(
            "decision IN ('approve', 'refer', 'decline')",
            name="ck_credit_applications_decision",
        ),
        sa.CheckConstraint(
            "review_state IN ('not_offered', 'available', 'requested', 'decided')",
            name="ck_credit_applications_review_state",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_credit_applications_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_credit_applications_account_id_accounts",
            ondelete="CASCADE",
        ),
    )
    for column in ("tenant_id", "account_id", "created_at"):
        op.create_index(f"ix_credit_applications_{column}", "credit_applications", [column])


def downgrade() -> None:
    for column in ("created_at", "account_id", "tenant_id"):
        op.drop_index(f"ix_credit_applications_{column}", table_name="credit_applications")
    op.drop_table("credit_applications")
