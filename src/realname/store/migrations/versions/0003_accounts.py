"""Accounts: SMS one-time codes, sessions, proven phones, attempt limits, account links.

Tables for :mod:`realname.accounts`. None holds personal data in plaintext: phones,
ID numbers, device ids and IP addresses appear only as blind indexes or HMACs, codes
only as HMACs, session tokens only as SHA-256. Written by hand and checked against
the models by ``tests/store/test_migrations.py`` on SQLite and PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
HEX = 64
PURPOSES = "purpose IN ('signup', 'login', 'phone_change', 'link_account', 'possession')"


def _id(name: str = "id", nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID), nullable=nullable)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "otp_challenges",
        _id(),
        _id("tenant_id"),
        _id("account_id", nullable=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("phone_blind_index", sa.String(HEX), nullable=False),
        sa.Column("code_mac", sa.String(HEX), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("delivery_status", sa.String(16), nullable=True),
        sa.Column("gateway_message_id", sa.String(128), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("verified_at", nullable=True),
        _ts("consumed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_otp_challenges"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_otp_challenges_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_otp_challenges_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(PURPOSES, name="ck_otp_challenges_purpose"),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'consumed', 'locked', 'superseded', "
            "'undeliverable')",
            name="ck_otp_challenges_status",
        ),
        sa.CheckConstraint("attempts >= 0", name="ck_otp_challenges_attempts_non_negative"),
    )
    op.create_index("ix_otp_challenges_account_id", "otp_challenges", ["account_id"])
    op.create_index(
        "ix_otp_challenges_tenant_phone_created",
        "otp_challenges",
        ["tenant_id", "phone_blind_index", "created_at"],
    )

    op.create_table(
        "account_sessions",
        _id(),
        _id("account_id"),
        sa.Column("token_hash", sa.String(HEX), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_account_sessions"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_account_sessions_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token_hash", name="uq_account_sessions_token_hash"),
    )
    op.create_index("ix_account_sessions_account_id", "account_sessions", ["account_id"])

    op.create_table(
        "phone_proofs",
        _id(),
        _id("account_id"),
        sa.Column("phone_blind_index", sa.String(HEX), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        _id("challenge_id", nullable=True),
        _ts("proven_at"),
        sa.PrimaryKeyConstraint("id", name="pk_phone_proofs"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_phone_proofs_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["otp_challenges.id"],
            name="fk_phone_proofs_challenge_id_otp_challenges",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(PURPOSES, name="ck_phone_proofs_purpose"),
    )
    op.create_index("ix_phone_proofs_challenge_id", "phone_proofs", ["challenge_id"])
    op.create_index(
        "ix_phone_proofs_account_phone", "phone_proofs", ["account_id", "phone_blind_index"]
    )

    op.create_table(
        "attempt_events",
        _id(),
        _id("tenant_id"),
        sa.Column("key_kind", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(HEX), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        _ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_attempt_events"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_attempt_events_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "key_kind IN ('id_number', 'phone', 'device', 'ip')",
            name="ck_attempt_events_key_kind",
        ),
        sa.CheckConstraint("outcome IN ('failure', 'success')", name="ck_attempt_events_outcome"),
    )
    op.create_index("ix_attempt_events_at", "attempt_events", ["at"])
    op.create_index(
        "ix_attempt_events_key",
        "attempt_events",
        ["tenant_id", "key_kind", "key_hash", "outcome", "at"],
    )

    op.create_table(
        "account_links",
        _id("account_id"),
        _id("linked_account_id"),
        _id("challenge_id", nullable=True),
        _ts("linked_at"),
        sa.PrimaryKeyConstraint("account_id", "linked_account_id", name="pk_account_links"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_account_links_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["linked_account_id"],
            ["accounts.id"],
            name="fk_account_links_linked_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["otp_challenges.id"],
            name="fk_account_links_challenge_id_otp_challenges",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint("account_id <> linked_account_id", name="ck_account_links_not_self"),
    )
    op.create_index("ix_account_links_linked_account_id", "account_links", ["linked_account_id"])


def downgrade() -> None:
    op.drop_index("ix_account_links_linked_account_id", table_name="account_links")
    op.drop_table("account_links")
    op.drop_index("ix_attempt_events_key", table_name="attempt_events")
    op.drop_index("ix_attempt_events_at", table_name="attempt_events")
    op.drop_table("attempt_events")
    op.drop_index("ix_phone_proofs_account_phone", table_name="phone_proofs")
    op.drop_index("ix_phone_proofs_challenge_id", table_name="phone_proofs")
    op.drop_table("phone_proofs")
    op.drop_index("ix_account_sessions_account_id", table_name="account_sessions")
    op.drop_table("account_sessions")
    op.drop_index("ix_otp_challenges_tenant_phone_created", table_name="otp_challenges")
    op.drop_index("ix_otp_challenges_account_id", table_name="otp_challenges")
    op.drop_table("otp_challenges")
