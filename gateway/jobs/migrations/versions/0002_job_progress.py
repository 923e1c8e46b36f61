"""Rows fetched per backend while a job runs, so every replica can show a worker's progress.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the JSON text column ``progress`` to ``uws_jobs``."""
    with op.batch_alter_table("uws_jobs") as batch:
        batch.add_column(sa.Column("progress", sa.Text))


def downgrade() -> None:
    """Drop ``progress``."""
    with op.batch_alter_table("uws_jobs") as batch:
        batch.drop_column("progress")
