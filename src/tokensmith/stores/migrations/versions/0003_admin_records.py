"""Admin API records: every client field, stored API resources, change versions.

Revision ID: 0003
Revises: 0002

Clients gain a JSON ``client_metadata`` column holding every ``Client`` field, so
fields added later need no migration; rows from before keep NULL there and are
read from their columns as before. ``record_versions`` lets each process see
another's change to clients or resources with one cheap read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as table:
        table.add_column(sa.Column("client_metadata", sa.JSON(), nullable=True))
        table.add_column(sa.Column("encrypted_hmac_key", sa.LargeBinary(), nullable=True))
        table.add_column(sa.Column("updated_at", sa.Integer(), nullable=True))
    op.create_table(
        "api_resources",
        sa.Column("audience", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("access_token_format", sa.String(length=16), nullable=False),
        sa.Column("introspecting_clients", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("audience"),
    )
    versions = op.create_table(
        "record_versions",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind"),
    )
    op.bulk_insert(
        versions, [{"kind": "clients", "version": 0}, {"kind": "api_resources", "version": 0}]
    )


def downgrade() -> None:
    op.drop_table("record_versions")
    op.drop_table("api_resources")
    with op.batch_alter_table("clients") as table:
        table.drop_column("updated_at")
        table.drop_column("encrypted_hmac_key")
        table.drop_column("client_metadata")
