"""deployments keep the features their earlier champions took

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:40:00.000000

A request may still carry a field an earlier champion took and the current one does not (a retired
field): it is accepted and not given to the model. Serving used to work them out from every successful
replacement record of every deployment on each change; each deployment now keeps the union of its
earlier champions' feature names, added to when a swap commits, so a change reads only its own row.
Existing deployments get the union over their successful replacement records: what was read before.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # As in 0009: SQLite adds a NOT NULL column in place only with a default.
    column = sa.Column(
        "earlier_features", sa.JSON(), nullable=not sqlite, server_default=sa.text("'[]'") if sqlite else None
    )
    op.add_column("deployments", column)
    bind = op.get_bind()
    earlier: dict[str, set[str]] = {}
    rows = bind.execute(
        sa.text(
            "SELECT r.deployment_id, v.signature FROM replacement_records r "
            "JOIN model_versions v ON v.id = r.from_version_id WHERE r.outcome = 'succeeded'"
        )
    )
    for deployment_id, signature in rows:
        earlier.setdefault(deployment_id, set()).update(_names(signature))
    deployments = sa.table("deployments", sa.column("id", sa.String()), sa.column("earlier_features", sa.JSON()))
    bind.execute(sa.update(deployments).values(earlier_features=[]))
    for deployment_id, names in earlier.items():
        bind.execute(
            sa.update(deployments).where(deployments.c.id == deployment_id).values(earlier_features=sorted(names))
        )
    if not sqlite:
        op.alter_column("deployments", "earlier_features", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    op.drop_column("deployments", "earlier_features")


def _names(signature: Any) -> list[str]:
    document = json.loads(signature) if isinstance(signature, str) else signature
    return [feature["name"] for feature in document["features"]]
