"""Adaptive step-up: single-use step-up challenges and the devices seen per account.

Tables for :mod:`realname.risk.service` (DESIGN.md §6). Challenges are keyed by the
SHA-256 of their id; devices by an HMAC of the device id: no personal data.
Written by hand and checked against the models by ``tests/store/test_migrations.py``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
HEX = 64
ACTIONS = "'login', 'verification', 'credit_drawdown', 'phone_change', 'payout_card_change'"


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "step_up_challenges",
        sa.Column("id_hash", sa.String(HEX), nullable=False),
        sa.Column("tenant_id", sa.String(ID), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("passed", sa.JSON(), nullable=False),
        sa.Column("otp_challenge_id", sa.String(ID), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("completed_at", nullable=True),
        _ts("consumed_at", nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name="pk_step_up_challenges"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_step_up_challenges_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_step_up_challenges_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"action IN ({ACTIONS})", name="ck_step_up_challenges_action"),
    )
    op.create_index(
        "ix_step_up_challenges_account_created",
        "step_up_challenges",
        ["account_id", "created_at"],
    )

    op.create_table(
        "risk_devices",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("account_id", sa.String(ID), nullable=False),
        sa.Column("device_hash", sa.String(HEX), nullable=False),
        _ts("first_seen_at"),
        _ts("last_seen_at"),
        sa.PrimaryKeyConstraint("id", name="pk_risk_devices"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_risk_devices_account_id_accounts",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_risk_devices_account_device",
        "risk_devices",
        ["account_id", "device_hash"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_risk_devices_account_device", table_name="risk_devices")
    op.drop_table("risk_devices")
    op.drop_index("ix_step_up_challenges_account_created", table_name="step_up_challenges")
    op.drop_table("step_up_challenges")
