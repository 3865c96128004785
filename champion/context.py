"""Everything a running server holds: built once at start-up, handed to the faces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from champion.artifacts import ArtifactStore, open_store
from champion.auth import load_signing_key
from champion.config import Settings
from champion.db import make_engine, make_sessionmaker, migrate
from champion.replacement import trial

if TYPE_CHECKING:
    from champion.users.service import IssuedKey


@dataclass
class ServerContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ArtifactStore
    signing_key: str

    def close(self) -> None:
        self.engine.dispose()


def open_context(settings: Settings) -> ServerContext:
    """Connect to the database and the artifact store, bringing the schema up to date."""
    settings.home.mkdir(parents=True, exist_ok=True)
    store = open_store(settings)  # first: a bucket that cannot be used ends the start-up before any migration
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    trial.configure(trial.Limits(timeout=settings.trial_timeout_seconds, memory_bytes=settings.trial_memory_bytes))
    return ServerContext(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        store=store,
        signing_key=load_signing_key(settings.home, settings.secret_key),
    )


REPLICA_SETTLE_SECONDS = 3600.0
"""With replicas, staged files and unreferenced blobs younger than this may be another replica's upload."""


def bootstrap(context: ServerContext) -> IssuedKey | None:
    """First-start and after-crash housekeeping; returns the first admin's key when just created.

    Run once before any server process starts. With one server on the database, operations
    found running were left by a stopped server and go back to the queue; with several
    replicas, only those whose process no longer reports do (the runners' reaper takes the rest
    once their grace has passed).
    """
    # Imported here: the local commands (`champion users ...`) open a context but never bootstrap.
    from champion.cluster import service as cluster
    from champion.models import service as models
    from champion.operations import service as operations
    from champion.users import service as users

    alone = context.settings.replicas == 1
    # Replicas share the database and, with it, an artifact folder: another one may be midway
    # through an upload (staged, or kept and not yet committed), so only old leftovers go.
    settled = 0 if alone else REPLICA_SETTLE_SECONDS
    context.store.clear_staging(older_than=settled)
    with context.sessions() as session:
        operations.recover(session, live_runners=None if alone else cluster.live_names(session))
        # Alone, no blob is another's upload: the store is listed once, by the sweep (a bucket's
        # listing takes a request per thousand objects, a folder's a walk through it).
        young = set() if alone else set(context.store.digests()) - set(context.store.digests(older_than=settled))
        models.sweep_orphans(session, context.store, keep=young)
        return users.ensure_first_admin(
            session, name=context.settings.admin_user, api_key=context.settings.admin_api_key
        )
