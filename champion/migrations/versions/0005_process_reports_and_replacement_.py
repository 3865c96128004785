"""process reports and replacement candidates

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:37:40.538324
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_reports",
        sa.Column("process", sa.String(length=128), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("serving", sa.JSON(), nullable=False),
        sa.Column("prepared", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_process_reports")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("candidate_version_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deployments_candidate_version_id_model_versions"),
            "model_versions",
            ["candidate_version_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_deployments_candidate_version_id_model_versions"), type_="foreignkey")
        batch_op.drop_column("candidate_version_id")

    op.drop_table("process_reports")
