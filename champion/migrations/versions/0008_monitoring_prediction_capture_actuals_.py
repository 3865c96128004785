"""monitoring: prediction capture, actuals, windows, drift; challengers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:05:27.646268
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actuals",
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("association_id", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("was_acted_on", sa.Boolean(), nullable=True),
        sa.Column("actual_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_actuals_deployment_id_deployments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deployment_id", "association_id", name=op.f("pk_actuals")),
    )
    op.create_table(
        "associated_predictions",
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("association_id", sa.String(length=128), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("probabilities", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_associated_predictions_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "association_id", name=op.f("pk_associated_predictions")),
    )
    with op.batch_alter_table("associated_predictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_associated_predictions_deployment_at", ["deployment_id", "predicted_at"], unique=False
        )

    op.create_table(
        "capture_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drift_counted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_capture_files_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capture_files")),
    )
    with op.batch_alter_table("capture_files", schema=None) as batch_op:
        batch_op.create_index("ix_capture_files_deployment_first", ["deployment_id", "first_at"], unique=False)

    op.create_table(
        "challenger_replays",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("champion_version_id", sa.String(length=36), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_challenger_replays_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenger_replays")),
        sa.UniqueConstraint("deployment_id", "scheduled_for", name=op.f("uq_challenger_replays_deployment_id")),
    )
    with op.batch_alter_table("challenger_replays", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenger_replays_deployment_id"), ["deployment_id"], unique=False)

    op.create_table(
        "challengers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_challengers_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_challengers_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challengers")),
        sa.UniqueConstraint("deployment_id", "version_id", name=op.f("uq_challengers_deployment_id")),
    )
    with op.batch_alter_table("challengers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challengers_deployment_id"), ["deployment_id"], unique=False)

    op.create_table(
        "drift_baselines",
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("feature", sa.String(length=255), nullable=False),
        sa.Column("bins", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_drift_baselines_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "version_id", "feature", name=op.f("pk_drift_baselines")),
    )
    op.create_table(
        "drift_counts",
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("feature", sa.String(length=255), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_drift_counts_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "version_id", "window_start", "feature", "bin", name=op.f("pk_drift_counts")
        ),
    )
    op.create_table(
        "service_windows",
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("latency_sum", sa.Float(), nullable=False),
        sa.Column("latency_max", sa.Float(), nullable=False),
        sa.Column("slow_requests", sa.Integer(), nullable=False),
        sa.Column("prediction_sum", sa.Float(), nullable=False),
        sa.Column("dropped_rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_service_windows_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "version_id", "window_start", name=op.f("pk_service_windows")),
    )
    op.create_table(
        "challenger_results",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("replay_id", sa.String(length=36), nullable=False),
        sa.Column("challenger_id", sa.String(length=36), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("failed_rows", sa.Integer(), nullable=False),
        sa.Column("first_error", sa.Text(), nullable=True),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("difference", sa.Float(), nullable=True),
        sa.Column("seconds_per_row", sa.Float(), nullable=True),
        sa.Column("actual_rows", sa.Integer(), nullable=False),
        sa.Column("accuracy", sa.JSON(), nullable=False),
        sa.Column("champion_accuracy", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenger_id"],
            ["challengers.id"],
            name=op.f("fk_challenger_results_challenger_id_challengers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replay_id"],
            ["challenger_replays.id"],
            name=op.f("fk_challenger_results_replay_id_challenger_replays"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenger_results")),
    )
    with op.batch_alter_table("challenger_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_challenger_results_challenger_id"), ["challenger_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_challenger_results_replay_id"), ["replay_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("challenger_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenger_results_replay_id"))
        batch_op.drop_index(batch_op.f("ix_challenger_results_challenger_id"))

    op.drop_table("challenger_results")
    op.drop_table("service_windows")
    op.drop_table("drift_counts")
    op.drop_table("drift_baselines")
    with op.batch_alter_table("challengers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challengers_deployment_id"))

    op.drop_table("challengers")
    with op.batch_alter_table("challenger_replays", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenger_replays_deployment_id"))

    op.drop_table("challenger_replays")
    with op.batch_alter_table("capture_files", schema=None) as batch_op:
        batch_op.drop_index("ix_capture_files_deployment_first")

    op.drop_table("capture_files")
    with op.batch_alter_table("associated_predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_associated_predictions_deployment_at")

    op.drop_table("associated_predictions")
    op.drop_table("actuals")
