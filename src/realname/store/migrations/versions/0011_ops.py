"""Operations console: operators, their sessions and failed logins, review cases.

Tables for :mod:`realname.ops`. Passwords are argon2id hashes, session tokens and
login-failure keys are hashes; review cases hold ids and codes, no personal data.
Written by hand and checked against the models by ``tests/store/test_migrations.py``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
HEX = 64


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


REASONS = (
    "IDENTITY_IN_USE",
    "UNDER_REVIEW",
    "FACE_LOW_CONFIDENCE",
    "REPEATED_FAILURES",
    "CREDIT_DECLINE_REVIEW",
)


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("disabled_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint("username", name="uq_operators_username"),
        sa.CheckConstraint(
            _in("role", ("reviewer", "supervisor", "auditor")), name="ck_operators_role"
        ),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(HEX), nullable=False),
        sa.Column("operator_id", sa.String(ID), nullable=False),
        _ts("created_at"),
        _ts("last_seen_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_operator_sessions"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_operator_sessions_operator_id_operators",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_operator_sessions_operator_id", "operator_sessions", ["operator_id"])
    op.create_table(
        "operator_login_failures",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("key_hash", sa.String(HEX), nullable=False),
        _ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_operator_login_failures"),
    )
    op.create_index(
        "ix_operator_login_failures_key_at", "operator_login_failures", ["key_hash", "at"]
    )
    op.create_table(
        "review_cases",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("tenant_id", sa.String(ID), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("open_key", sa.String(128), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("opened_at"),
        _ts("due_at"),
        sa.Column("assignee_id", sa.String(ID), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decision_code", sa.String(64), nullable=True),
        sa.Column("level_granted", sa.String(8), nullable=True),
        sa.Column("decided_by", sa.String(ID), nullable=True),
        _ts("decided_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_cases"),
        sa.UniqueConstraint("open_key", name="uq_review_cases_open_key"),
        sa.CheckConstraint(_in("reason", REASONS), name="ck_review_cases_reason"),
        sa.CheckConstraint(
            _in("state", ("open", "assigned", "decided", "withdrawn")), name="ck_review_cases_state"
        ),
        sa.CheckConstraint(
            "decision IS NULL OR " + _in("decision", ("approve", "reject", "resubmit")),
            name="ck_review_cases_decision",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_review_cases_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_review_cases_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["operators.id"],
            name="fk_review_cases_assignee_id_operators",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["operators.id"],
            name="fk_review_cases_decided_by_operators",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_review_cases_tenant_id", "review_cases", ["tenant_id"])
    op.create_index(
        "ix_review_cases_reason_reference", "review_cases", ["reason", "reference"], unique=True
    )
    op.create_index("ix_review_cases_state_due", "review_cases", ["state", "due_at"])
    op.create_index("ix_review_cases_account_opened", "review_cases", ["account_id", "opened_at"])
    op.create_table(
        "ops_watermarks",
        sa.Column("name", sa.String(64), nullable=False),
        _ts("at"),
        sa.PrimaryKeyConstraint("name", name="pk_ops_watermarks"),
    )


def downgrade() -> None:
    op.drop_table("ops_watermarks")
    op.drop_index("ix_review_cases_account_opened", table_name="review_cases")
    op.drop_index("ix_review_cases_state_due", table_name="review_cases")
    op.drop_index("ix_review_cases_reason_reference", table_name="review_cases")
    op.drop_index("ix_review_cases_tenant_id", table_name="review_cases")
    op.drop_table("review_cases")
    op.drop_index("ix_operator_login_failures_key_at", table_name="operator_login_failures")
    op.drop_table("operator_login_failures")
    op.drop_index("ix_operator_sessions_operator_id", table_name="operator_sessions")
    op.drop_table("operator_sessions")
    op.drop_table("operators")
