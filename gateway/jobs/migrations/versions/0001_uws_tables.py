"""UWS job, parameter and result tables.

Revision ID: 0001
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateSequence

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables (and, on PostgreSQL, the job sequence)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CreateSequence(sa.Sequence("uws_job_seq")))
    op.create_table(
        "uws_jobs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("owner_id", sa.Text),
        sa.Column("phase", sa.Text, nullable=False),
        sa.Column("creation_us", sa.BigInteger, nullable=False),
        sa.Column("start_us", sa.BigInteger),
        sa.Column("end_us", sa.BigInteger),
        sa.Column("execution_duration", sa.Integer, nullable=False),
        sa.Column("destruction_us", sa.BigInteger),
        sa.Column("quote_us", sa.BigInteger),
        sa.Column("error_message", sa.Text),
        sa.Column("error_type", sa.Text),
        sa.Column("heartbeat_us", sa.BigInteger),
        sa.Column("worker_id", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("result_bytes", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("uws_jobs_creation", "uws_jobs", ["creation_us", "seq"])
    op.create_index("uws_jobs_owner_phase", "uws_jobs", ["owner_id", "phase"])
    children: tuple[tuple[str, list[sa.Column[Any]]], ...] = (
        (
            "uws_parameters",
            [
                sa.Column("name", sa.Text, nullable=False),
                sa.Column("value", sa.Text, nullable=False),
                sa.Column("by_reference", sa.Boolean, nullable=False),
            ],
        ),
        (
            "uws_results",
            [
                sa.Column("result_id", sa.Text, nullable=False),
                sa.Column("href", sa.Text, nullable=False),
                sa.Column("mime_type", sa.Text),
                sa.Column("size", sa.BigInteger),
            ],
        ),
    )
    for name, columns in children:
        op.create_table(
            name,
            sa.Column(
                "job_id",
                sa.Text,
                sa.ForeignKey("uws_jobs.job_id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("position", sa.Integer, primary_key=True),
            *columns,
        )


def downgrade() -> None:
    """Drop everything :func:`upgrade` made."""
    op.drop_table("uws_results")
    op.drop_table("uws_parameters")
    op.drop_table("uws_jobs")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE uws_job_seq")
