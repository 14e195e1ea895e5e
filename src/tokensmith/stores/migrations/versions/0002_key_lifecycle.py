"""Signing key lifecycle: announce, activate, retire and remove keys on a schedule.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as table:
        table.add_column(sa.Column("activates_at", sa.Integer(), nullable=True))
        table.add_column(sa.Column("retired_at", sa.Integer(), nullable=True))
        table.add_column(sa.Column("remove_after", sa.Integer(), nullable=True))
        table.add_column(sa.Column("succeeds", sa.String(length=128), nullable=True))
        table.create_index("signing_keys_succeeds", ["succeeds"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as table:
        table.drop_index("signing_keys_succeeds")
        table.drop_column("succeeds")
        table.drop_column("remove_after")
        table.drop_column("retired_at")
        table.drop_column("activates_at")
