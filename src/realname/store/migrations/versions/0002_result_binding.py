"""Verification results remember their bound phone, product and time of verification.

``bound_phone_index`` (the blind index of the phone the L2 channel was bound on) lets
a later attempt tell whether the number it sees is the one verified before — the
basis of PHONE_RECYCLED — without keeping the phone in plaintext. ``product`` names
the product policy the result was judged against; ``verified_at`` is when the level
was reached (it differs from ``created_at`` for results imported from elsewhere).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from realname.store.types import UtcDateTime

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verification_results") as batch:
        batch.add_column(sa.Column("bound_phone_index", sa.String(64), nullable=True))
        batch.add_column(sa.Column("product", sa.String(64), nullable=True))
        batch.add_column(sa.Column("verified_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verification_results") as batch:
        batch.drop_column("verified_at")
        batch.drop_column("product")
        batch.drop_column("bound_phone_index")
