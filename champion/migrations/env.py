"""Alembic environment: runs on the connection champion hands in, or on CHAMPION_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from champion import tables  # noqa: F401  (registers every table on Base.metadata)
from champion.config import Settings
from champion.db import Base, make_engine


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(Settings().resolved_database_url)
    with engine.begin() as conn:
        run(conn)
