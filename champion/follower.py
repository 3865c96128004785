"""Keeps this process's serving engine and access cache in step with the database.

It reads the change counters (one small query) when woken by a notification
(`champion/notifications.py`, PostgreSQL) and otherwise every tenth of a second, or every second
while notifications arrive (a lost one then costs at most that second). When a counter moved, it
reloads that snapshot and loads what the engine lacks: champions to serve, candidates to hold
warm beside them. It then publishes what this process serves, so an operation can tell when
every worker and replica has switched (invariant 6) — predictions never touch the database.
The report is also this process's heartbeat, its lease on the operations it runs: it is written
at least every second on a thread of its own, so loads filling the shared threads never delay it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from champion import changes
from champion.artifacts import ArtifactStore
from champion.cluster import service as cluster
from champion.deployments import lifecycle
from champion.deployments.types import State
from champion.serving.engine import DeploymentView, ServingEngine, VersionRef
from champion.serving_views import ServingViews
from champion.spaces.access import AccessCache

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
POLL_SECONDS = 0.1
"""How often to look without notifications (SQLite, or while the listener's connection is down)."""
RELAXED_POLL_SECONDS = 1.0
"""How often to look while a listener wakes this process on every change: the fallback for a lost one."""


def _never() -> bool:
    return False


class Follower:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: ServingEngine,
        access: AccessCache,
        store: ArtifactStore,
        *,
        process: str,
        interval: float = POLL_SECONDS,
        relaxed_interval: float = RELAXED_POLL_SECONDS,
        listening: Callable[[], bool] = _never,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._access = access
        self._store = store
        self._interval = interval
        self._relaxed_interval = relaxed_interval
        self._listening = listening
        """Whether notifications wake this follower now (then it may poll at the relaxed interval)."""
        self._wake = asyncio.Event()
        self.process = process
        self._seen: dict[changes.Topic, int] = {}
        self._look_again = False
        """A load ended: the deployments may have moved on meanwhile, whatever the counters say."""
        self._built = ServingViews()
        """The views built so far: a change rebuilds only the deployments it touched."""
        self._loading: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._errors: dict[str, dict[str, str]] = {}
        self._lost: frozenset[str] = frozenset()
        """Deployments failed because their champion, served before, can no longer be loaded."""
        self._published: cluster.Report | None = None
        self._published_at = 0.0
        self._publishing = asyncio.Lock()
        """One report write at a time, so an older report never lands after a newer one."""
        self._reporter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="champion-heartbeat")
        """Where reports are written: model loads share the loop's default threads and may fill them."""
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Catch up once (loading every served model before traffic), then keep following."""
        await self.sync(wait=True)
        # Once more: a champion that failed to load may have failed its deployment meanwhile, and
        # traffic must find that deployment failed, not ready without a model.
        await self.sync()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._loop(), name="follower"),
            loop.create_task(self._beat(), name="heartbeat"),
        ]

    def wake(self) -> None:
        """Something changed in the database: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for task in self._loading.values():
            task.cancel()
        await asyncio.get_running_loop().run_in_executor(self._reporter, self._forget)
        self._reporter.shutdown(wait=False)

    async def _loop(self) -> None:
        while True:
            interval = self._relaxed_interval if self._listening() else self._interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            # Cleared before looking: a change announced while this sync runs wakes the next one.
            self._wake.clear()
            try:
                await self.sync()
            except Exception:
                logger.exception("following the database failed; retrying")

    async def _beat(self) -> None:
        """Keep the heartbeat fresh even while a sync waits for the database or the shared threads."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS / 2)
            try:
                await self._publish()
            except Exception:
                logger.exception("writing this process's report failed; retrying")

    async def sync(self, *, wait: bool = False) -> None:
        counters = await asyncio.to_thread(self._read_counters)
        if counters.get(changes.Topic.AUTH) != self._seen.get(changes.Topic.AUTH):
            await asyncio.to_thread(self._reload_access)
        if self._look_again or counters.get(changes.Topic.DEPLOYMENTS) != self._seen.get(changes.Topic.DEPLOYMENTS):
            views, self._lost = await asyncio.to_thread(self._views)
            # Cleared only now: a load ending from here on flags again, one that ended before is seen below.
            self._look_again = False
            self._forget_old_errors(views)
            plan = self._engine.follow(views)
            for view in plan.load:
                # A ready deployment's champion served before: failing to load it now is a loss to record.
                self._start(view.id, view.champion, prepare=False, served_before=view.state == State.READY)
            for view in plan.prepare:
                assert view.candidate is not None
                self._start(view.id, view.candidate, prepare=True)
            if wait and self._loading:
                await asyncio.gather(*self._loading.values(), return_exceptions=True)
        self._seen = counters
        await self._publish()

    async def _publish(self) -> None:
        """Write this process's report when it changed, and at least every heartbeat."""
        await asyncio.sleep(0)  # let promotions scheduled by follow() run first
        async with self._publishing:
            report = cluster.Report(
                serving=self._engine.serving_map(), prepared=self._engine.prepared_map(), errors=dict(self._errors)
            )
            if report != self._published or time.monotonic() - self._published_at > HEARTBEAT_SECONDS:
                await asyncio.get_running_loop().run_in_executor(self._reporter, self._write, report)
                self._published, self._published_at = report, time.monotonic()

    def _lose(self, deployment_id: str, ref: VersionRef, message: str) -> None:
        with self._sessions() as session:
            reason = f"the model (model {ref.model_id} rev {ref.number}) cannot be loaded on {self.process}: {message}"
            if lifecycle.champion_lost(session, deployment_id=deployment_id, version_id=ref.version_id, message=reason):
                session.commit()

    def _write(self, report: cluster.Report) -> None:
        with self._sessions() as session:
            cluster.publish(session, process=self.process, report=report)

    def _forget(self) -> None:
        with self._sessions() as session:
            cluster.forget(session, process=self.process)

    def _read_counters(self) -> dict[changes.Topic, int]:
        with self._sessions() as session:
            return changes.read(session)

    def _reload_access(self) -> None:
        with self._sessions() as session:
            self._access.reload(session)

    def unavailable(self) -> int:
        """How many deployments this process should serve and cannot: champions it failed to load,
        and deployments failed because their model, served before, can no longer be loaded."""
        failed_here = {d for d, error in self._errors.items() if error.get("champion")}
        return len(failed_here | self._lost)

    def _views(self) -> tuple[list[DeploymentView], frozenset[str]]:
        with self._sessions() as session:
            return self._built.read(session)

    def _forget_old_errors(self, views: list[DeploymentView]) -> None:
        """Keep load errors only while the deployment still asks for that version and has not failed
        (a retry, such as activating the failed deployment, loads again)."""
        wanted = {
            v.id: {v.champion.version_id, v.candidate.version_id if v.candidate else ""} for v in views if not v.dropped
        }
        self._errors = {d: e for d, e in self._errors.items() if e["version"] in wanted.get(d, set())}

    def _start(self, deployment_id: str, ref: VersionRef, *, prepare: bool, served_before: bool = False) -> None:
        key = (deployment_id, ref.version_id)
        if key in self._loading or self._errors.get(deployment_id, {}).get("version") == ref.version_id:
            return  # already loading, or already failed here: the operation will see the error
        self._loading[key] = asyncio.get_running_loop().create_task(
            self._load(deployment_id, ref, prepare=prepare, served_before=served_before)
        )

    async def _load(self, deployment_id: str, ref: VersionRef, *, prepare: bool, served_before: bool) -> None:
        try:
            view = self._engine.resolve(deployment_id)
            compiled = view.compiled if view is not None else True
            # Off the loop: with an object store a first use downloads the blob (and checks its hash).
            path = await asyncio.to_thread(self._store.open_path, ref.sha256)
            loaded = await self._engine.load(ref, path, compiled=compiled)
            if prepare:
                await self._engine.prepare(deployment_id, loaded)
            else:
                await self._engine.install(deployment_id, loaded)
            self._errors.pop(deployment_id, None)
        except Exception as exc:
            logger.warning("could not load model %s rev %s for %s: %s", ref.model_id, ref.number, deployment_id, exc)
            message = _first_line(exc)
            self._errors[deployment_id] = {"version": ref.version_id, "message": message}
            if not prepare:
                self._errors[deployment_id]["champion"] = "true"
            if served_before:
                # No operation is waiting on this load: the deployment itself must say it failed.
                await asyncio.to_thread(self._lose, deployment_id, ref, message)
        finally:
            self._loading.pop((deployment_id, ref.version_id), None)
            # Look again at once: the deployment may have moved on while this loaded (a flag, not the
            # counters: a sync running now would overwrite them with what it read before this ended).
            self._look_again = True
            self.wake()
        # Say so at once: an operation is waiting on this report, and a tick is an age to it.
        await self._publish()


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]
