"""revisions keep their commit message

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00.000000

WML's `POST /ml/v4/models/{id}/revisions` takes a `commit_message` and shows it in the revision's
`metadata.commit_info`; it was accepted and dropped. Existing revisions have none (NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("commit_message", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("model_versions", "commit_message")
