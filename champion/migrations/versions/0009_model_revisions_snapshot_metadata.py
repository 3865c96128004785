"""model revisions snapshot the model's metadata

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:50:00.000000

Each model version (a WML revision) keeps the name, description, tags, software specification and
custom metadata the model had when it was made. Existing versions get their model's current values:
the only ones known.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("name", sa.String(length=255), "''"),
    ("description", sa.Text(), "''"),
    ("tags", sa.JSON(), "'[]'"),
    ("software_spec_id", sa.String(length=36), "''"),
    ("custom", sa.JSON(), "'{}'"),
)
"""Each snapshot column, its type, and the default SQLite adds it with."""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, kind, empty in COLUMNS:
        # SQLite adds a NOT NULL column in place only with a default. Making it NOT NULL afterwards
        # would rebuild the table, and the rebuild drops the old one while foreign keys are enforced
        # (PRAGMA foreign_keys cannot change inside the migration's transaction): that would refuse,
        # or cascade into, every row that names a model version. The default is never used: champion
        # writes every column.
        column = sa.Column(name, kind, nullable=not sqlite, server_default=sa.text(empty) if sqlite else None)
        op.add_column("model_versions", column)
    filled = ", ".join(
        f"{name} = (SELECT registered_models.{name} FROM registered_models "
        "WHERE registered_models.id = model_versions.model_id)"
        for name, _, _ in COLUMNS
    )
    op.execute(f"UPDATE model_versions SET {filled}")
    if not sqlite:
        for name, kind, _ in COLUMNS:
            op.alter_column("model_versions", name, existing_type=kind, nullable=False)


def downgrade() -> None:
    for name, _, _ in reversed(COLUMNS):
        op.drop_column("model_versions", name)
