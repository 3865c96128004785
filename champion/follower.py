"""Keeps this process's serving engine and access cache in step with the database.

Every few hundred milliseconds it reads the change counters (one small query); when one
moved, it reloads that snapshot. This is how every worker and replica converges on the
same champion after a swap (invariant 6) while predictions never touch the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import Session, sessionmaker

from champion import changes
from champion.artifacts import ArtifactStore
from champion.deployments import service as deployments
from champion.deployments.rollout import version_ref
from champion.deployments.types import State
from champion.replacement import service as replacement
from champion.serving.engine import DeploymentView, ServingEngine
from champion.spaces.access import AccessCache

logger = logging.getLogger(__name__)


class Follower:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: ServingEngine,
        access: AccessCache,
        store: ArtifactStore,
        *,
        interval: float = 0.25,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._access = access
        self._store = store
        self._interval = interval
        self._seen: dict[changes.Topic, int] = {}
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Catch up once (loading every served model before traffic), then keep following."""
        await self.sync(wait=True)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in self._loading.values():
            task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sync()
            except Exception:
                logger.exception("following the database failed; retrying")

    async def sync(self, *, wait: bool = False) -> None:
        counters = await asyncio.to_thread(self._read_counters)
        if counters.get(changes.Topic.AUTH) != self._seen.get(changes.Topic.AUTH):
            await asyncio.to_thread(self._reload_access)
        if counters.get(changes.Topic.DEPLOYMENTS) != self._seen.get(changes.Topic.DEPLOYMENTS):
            views = await asyncio.to_thread(self._views)
            for view in self._engine.follow(views):
                self._load(view)
            if wait and self._loading:
                await asyncio.gather(*self._loading.values(), return_exceptions=True)
        self._seen = counters

    def _read_counters(self) -> dict[changes.Topic, int]:
        with self._sessions() as session:
            return changes.read(session)

    def _reload_access(self) -> None:
        with self._sessions() as session:
            self._access.reload(session)

    def _views(self) -> list[DeploymentView]:
        with self._sessions() as session:
            retired = replacement.retired_fields(session)
            return [
                DeploymentView(
                    id=d.deployment.id,
                    space_id=d.deployment.space_id,
                    name=d.deployment.name,
                    kind=d.deployment.kind,
                    state=d.deployment.state,
                    serving_name=d.deployment.serving_name,
                    champion=version_ref(d.version),
                    serves=d.deployment.state in (State.READY, State.UPDATING),
                    dropped=d.deployment.state == State.FAILED,
                    retired_fields=retired.get(d.deployment.id, frozenset()),
                )
                for d in deployments.serving_snapshot(session)
            ]

    def _load(self, view: DeploymentView) -> None:
        running = self._loading.get(view.id)
        if running is not None and not running.done():
            return  # the next change will be picked up when this load ends
        task = asyncio.get_running_loop().create_task(self._install(view))
        self._loading[view.id] = task

    async def _install(self, view: DeploymentView) -> None:
        try:
            loaded = await self._engine.load(view.champion, self._store.open_path(view.champion.sha256))
            await self._engine.install(view.id, loaded)
        except Exception:
            logger.exception("could not load the champion of deployment %s", view.id)
        finally:
            self._loading.pop(view.id, None)
            # Force a fresh look: the champion may have changed while this one loaded.
            self._seen.pop(changes.Topic.DEPLOYMENTS, None)
