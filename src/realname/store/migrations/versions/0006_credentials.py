"""Reusable verification: trust registry, Token Status Lists, the Merkle ledger.

Tables for :mod:`realname.credentials` (DESIGN.md §7). Institutions are keyed by DID;
their Ed25519 keys carry validity intervals so rotation keeps old credentials
verifiable. Status lists hold statuses (uncompressed) and revocations a reason code
and a credential hash. The ledger holds leaf hashes of issuance and revocation
events and signed checkpoints: hashes only, never personal data.
Written by hand and checked against the models by ``tests/store/test_migrations.py``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 36
HEX = 64
DID = 255


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "trusted_institutions",
        sa.Column("did", sa.String(DID), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("did", name="pk_trusted_institutions"),
    )

    op.create_table(
        "institution_keys",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("institution_did", sa.String(DID), nullable=False),
        sa.Column("kid", sa.String(DID + 64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        _ts("valid_from"),
        _ts("valid_until", nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_institution_keys"),
        sa.ForeignKeyConstraint(
            ["institution_did"],
            ["trusted_institutions.did"],
            name="fk_institution_keys_institution_did_trusted_institutions",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "length(public_key) = 32", name="ck_institution_keys_public_key_ed25519"
        ),
    )
    op.create_index(
        "ix_institution_keys_did_kid", "institution_keys", ["institution_did", "kid"], unique=True
    )

    op.create_table(
        "credential_status_lists",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("issuer_did", sa.String(DID), nullable=False),
        sa.Column("uri", sa.String(2048), nullable=False),
        sa.Column("bits", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("statuses", sa.LargeBinary(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_credential_status_lists"),
        sa.ForeignKeyConstraint(
            ["issuer_did"],
            ["trusted_institutions.did"],
            name="fk_credential_status_lists_issuer_did_trusted_institutions",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("bits IN (1, 2, 4, 8)", name="ck_credential_status_lists_bits"),
        sa.CheckConstraint(
            "next_index >= 0 AND next_index <= capacity",
            name="ck_credential_status_lists_next_index_range",
        ),
    )
    op.create_index(
        "ix_credential_status_lists_issuer_did", "credential_status_lists", ["issuer_did"]
    )
    op.create_index(
        "ix_credential_status_lists_uri", "credential_status_lists", ["uri"], unique=True
    )

    op.create_table(
        "credential_revocations",
        sa.Column("list_id", sa.String(ID), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("credential_hash", sa.String(HEX), nullable=False),
        _ts("revoked_at"),
        sa.PrimaryKeyConstraint("list_id", "idx", name="pk_credential_revocations"),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["credential_status_lists.id"],
            name="fk_credential_revocations_list_id_credential_status_lists",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "reason IN ('erasure', 'phone_reissued', 'fraud')",
            name="ck_credential_revocations_reason",
        ),
    )

    op.create_table(
        "ledger_leaves",
        sa.Column("leaf_index", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("credential_hash", sa.String(HEX), nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        _ts("appended_at"),
        sa.PrimaryKeyConstraint("leaf_index", name="pk_ledger_leaves"),
        sa.CheckConstraint(
            "event_type IN ('issued', 'revoked')", name="ck_ledger_leaves_event_type"
        ),
        sa.CheckConstraint("length(leaf_hash) = 32", name="ck_ledger_leaves_leaf_hash_sha256"),
    )
    op.create_index("ix_ledger_leaves_credential_hash", "ledger_leaves", ["credential_hash"])

    op.create_table(
        "ledger_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("tree_size", name="pk_ledger_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_ledger_leaves_credential_hash", table_name="ledger_leaves")
    op.drop_table("ledger_leaves")
    op.drop_table("credential_revocations")
    op.drop_index("ix_credential_status_lists_uri", table_name="credential_status_lists")
    op.drop_index("ix_credential_status_lists_issuer_did", table_name="credential_status_lists")
    op.drop_table("credential_status_lists")
    op.drop_index("ix_institution_keys_did_kid", table_name="institution_keys")
    op.drop_table("institution_keys")
    op.drop_table("trusted_institutions")
