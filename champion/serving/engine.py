"""The serving engine: which model each deployment serves in this process, swapped atomically.

The engine holds the champion of each deployment as one reference, replaced in one
assignment under a per-deployment lock: a request picks the reference up once and is
answered wholly by that model (invariant 1). A replaced model is released only after the
requests that picked it up have drained. The engine never reads the database; it is told
what to serve (`follow`) by the process's follower.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Coroutine, Iterable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from champion.errors import Unavailable
from champion.meters.metrics import ServingMetrics
from champion.monitoring.capture import CaptureBuffer, CapturePolicy
from champion.runtimes import Framework, LoadedModel, Prediction, Signature, load
from champion.runtimes import compiled as compiled_form
from champion.serving import humility
from champion.serving.batching import LargeRequests, MicroBatcher
from champion.serving.humility import HumilityOutcome, HumilityRules
from champion.serving.warmup import warm_up

logger = logging.getLogger(__name__)

INLINE_ROWS = 32
"""Batches of a compiled model up to this many rows are answered on the event loop (about 0.1 ms at most)."""

ALONE_ROWS = 64
"""A request to a compiled model of at least this many rows is a model call of its own, never merged: its
call costs about 7 us beside 2.3 us a row, so merging saves nothing and the hand-offs cost (100 rows at
concurrency 8: 1,404 -> 1,685 req/s). A native model's call costs more (a GradientBoosting's 200 us),
and merging pays there (1,036 -> 823 req/s when not merged)."""

LARGE_REQUEST_THREADS = max(1, min(4, os.cpu_count() or 1))
"""Requests larger than a batch scored at once, across every model: one a core, up to four."""


@dataclass(frozen=True)
class VersionRef:
    """Which artifact to load, and what it looks like."""

    version_id: str
    model_id: str
    number: int
    framework: Framework
    sha256: str
    signature: Signature

    @property
    def name(self) -> str:
        """How every face and job names the version (the `Champion-Model-Version` header): `<model id>:<revision>`."""
        return f"{self.model_id}:{self.number}"


@dataclass(frozen=True)
class DeploymentView:
    """What the hot path needs to know about a deployment, without a database."""

    id: str
    space_id: str
    name: str
    kind: str
    state: str
    serving_name: str | None
    champion: VersionRef
    serves: bool
    """The champion should be loaded here (the deployment is ready, or updating)."""
    dropped: bool
    """Nothing should be loaded here (the deployment failed)."""
    retired_fields: frozenset[str] = frozenset()
    """Fields accepted in requests and not given to the model: those earlier champions took and this one
    does not, and the association id column."""
    candidate: VersionRef | None = None
    """A replacement every process should load and warm beside the champion, not serve yet."""
    humility: HumilityRules | None = None
    """The enabled humility rules, compiled against the champion's signature; None without any."""
    capture: CapturePolicy | None = None
    settings_digest: str = ""
    """`deployments.settings.digest` of the settings this view was compiled from."""
    compiled: bool = True
    """A tree ensemble may serve compiled (`runtimes.compiled`); False: the native model serves."""
    """How its predictions are captured; None when capture is off."""


@dataclass(frozen=True)
class Plan:
    """What this process must do to match the views it was given."""

    load: list[DeploymentView] = field(default_factory=list)
    """Champions to load and install (not served here yet, and not prepared)."""
    prepare: list[DeploymentView] = field(default_factory=list)
    """Candidates to load and warm beside the champion."""


@dataclass(eq=False)
class Loaded:
    """A model in memory as one deployment serves it (or holds it ready), with that deployment's requests
    using it counted."""

    ref: VersionRef
    model: LoadedModel
    batcher: MicroBatcher
    compiled: bool = True
    """Whether it was loaded with compilation allowed: a view that says otherwise has it loaded again."""
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    shared: _Shared | None = None
    """The engine's one copy of this model version, which other deployments may be using too."""

    def __post_init__(self) -> None:
        self.idle.set()


@dataclass(eq=False)
class _Shared:
    """A model version loaded once in this process, whichever deployments use it: one copy in memory,
    and one batcher, so requests to several deployments of it share model calls."""

    key: tuple[str, bool]
    """(version id, compiled allowed)."""
    model: LoadedModel
    batcher: MicroBatcher
    users: int = 0


@dataclass(frozen=True)
class Answer:
    version: VersionRef
    prediction: Prediction
    humility: HumilityOutcome | None = None
    """What the deployment's humility rules did (None when it has none); `prediction` is after it."""


class ServingEngine:
    def __init__(
        self,
        *,
        executor: Executor | None = None,
        metrics: ServingMetrics | None = None,
        capture: CaptureBuffer | None = None,
        large_request_threads: int = LARGE_REQUEST_THREADS,
    ) -> None:
        self._executor = executor
        self._large = LargeRequests(large_request_threads)
        """Where a request larger than a batch is scored, in one call, whichever model it is for."""
        self.metrics = metrics if metrics is not None else ServingMetrics()
        """This process's serving meters: the engine counts loaded models, scoring the rest."""
        self.capture = capture if capture is not None else CaptureBuffer()
        """This process's prediction capture buffer: scoring offers to it, the capture writer drains it."""
        self._views: dict[str, DeploymentView] = {}
        self._humble: dict[str, HumilityRules] = {}
        """The rules of the deployments that have any: empty, the hot path checks nothing more."""
        self._names: dict[str, str] = {}
        self._loaded: dict[str, Loaded] = {}
        self._prepared: dict[str, Loaded] = {}
        self._models: dict[tuple[str, bool], _Shared] = {}
        """Each model version in memory once, by (version id, compiled allowed)."""
        self._background: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._frozen = _Frozen()

    # -- the hot path -------------------------------------------------------------------

    def resolve(self, key: str) -> DeploymentView | None:
        """A deployment by id or serving name."""
        view = self._views.get(key)
        if view is None and key in self._names:
            view = self._views.get(self._names[key])
        return view

    def serving(self, deployment_id: str) -> VersionRef | None:
        loaded = self._loaded.get(deployment_id)
        return loaded.ref if loaded else None

    async def predict(self, deployment_id: str, rows: np.ndarray) -> Answer:
        """The answer for `rows`, with the deployment's humility rules applied: every face comes here."""
        async with self._use(deployment_id) as loaded:
            prediction = await loaded.batcher.predict(rows)
        if self._humble and (rules := self._humble.get(deployment_id)) is not None:
            return self._humbled(deployment_id, rules, loaded.ref, rows, prediction)
        return Answer(loaded.ref, prediction)

    def _humbled(
        self, deployment_id: str, rules: HumilityRules, ref: VersionRef, rows: np.ndarray, prediction: Prediction
    ) -> Answer:
        outcome = humility.apply(rules, rows, prediction)
        for rule, count in outcome.counts:
            self.metrics.humility_triggered(deployment_id, rule.name, rule.action, count)
        if outcome.refusal is not None:
            raise outcome.refusal
        return Answer(ref, outcome.prediction, outcome)

    @asynccontextmanager
    async def _use(self, deployment_id: str) -> AsyncIterator[Loaded]:
        # Taking the reference and counting it happen with no await in between, so a swap
        # cannot release the model between the two.
        loaded = self._loaded.get(deployment_id)
        if loaded is None:
            raise Unavailable(f"deployment {deployment_id!r} has no model loaded in this process yet")
        loaded.in_flight += 1
        loaded.idle.clear()
        try:
            yield loaded
        finally:
            loaded.in_flight -= 1
            if loaded.in_flight == 0:
                loaded.idle.set()

    # -- loading and swapping ---------------------------------------------------------

    async def load(self, ref: VersionRef, path: Path, *, compiled: bool = True) -> Loaded:
        """Load and warm a model off the event loop; raises what loading or warm-up raised.

        With `compiled`, a tree ensemble serves compiled when its compiled form matches it. A version
        another deployment has loaded here already is not loaded again: they share it.
        """
        key = (ref.version_id, compiled)
        shared = self._models.get(key)
        if shared is None:
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            model = await loop.run_in_executor(self._executor, _load_and_warm, ref, path, compiled)
            shared = self._models.get(key)  # another deployment's load of it may have ended meanwhile
            if shared is None:
                logger.info(
                    "loaded model %s rev %s (%s) in %.3fs",
                    ref.model_id,
                    ref.number,
                    ref.framework,
                    time.monotonic() - started,
                )
                self.metrics.model_loaded()
                # A compiled model answers a few rows in tens of microseconds: less than handing them
                # to the model's thread and back costs, so small batches are answered on the event loop,
                # and a large request is a call of its own (not by one that sends rows with missing
                # values to its native model).
                compiled_only = isinstance(model, compiled_form.CompiledModel) and not model.missing_native
                batcher = MicroBatcher(
                    model.predict,
                    large=self._large,
                    inline_rows=INLINE_ROWS if compiled_only else 0,
                    alone_rows=ALONE_ROWS if compiled_only else None,
                )
                shared = self._models[key] = _Shared(key, model, batcher)
                # What the load made lives as long as the model serves: out of the collector's reach,
                # as start-up's objects are (`app.lifespan`), full collections stay short on the
                # prediction path (one model deployed after start-up made them several times as long).
                # Reference counting frees it once the model is released; what of it is cyclic, a sweep.
                self._frozen.freeze()
        shared.users += 1
        return Loaded(ref=ref, model=shared.model, batcher=shared.batcher, compiled=compiled, shared=shared)

    async def install(self, deployment_id: str, loaded: Loaded) -> None:
        """Make `loaded` the deployment's champion here; release the old one once drained."""
        async with self._lock(deployment_id):
            old = self._loaded.get(deployment_id)
            self._loaded[deployment_id] = loaded
        if old is not None and old is not loaded:
            await self._release(old)

    async def remove(self, deployment_id: str) -> None:
        async with self._lock(deployment_id):
            old = self._loaded.pop(deployment_id, None)
        if old is not None:
            await self._release(old)

    async def prepare(self, deployment_id: str, loaded: Loaded) -> None:
        """Hold a warm candidate beside the champion, ready for an instant swap."""
        async with self._lock(deployment_id):
            old = self._prepared.get(deployment_id)
            self._prepared[deployment_id] = loaded
        if old is not None and old is not loaded:
            await self._release(old)

    def prepared(self, deployment_id: str) -> VersionRef | None:
        loaded = self._prepared.get(deployment_id)
        return loaded.ref if loaded else None

    async def promote(self, deployment_id: str) -> None:
        """Swap the prepared candidate in as the champion: the phase-two flip, with no load."""
        loaded = self._prepared.pop(deployment_id, None)
        if loaded is not None:  # two catch-ups may both ask for the same flip
            await self.install(deployment_id, loaded)

    async def discard(self, deployment_id: str) -> None:
        loaded = self._prepared.pop(deployment_id, None)
        if loaded is not None:
            await self._release(loaded)

    def serving_map(self) -> dict[str, str]:
        return {deployment_id: loaded.ref.version_id for deployment_id, loaded in self._loaded.items()}

    def prepared_map(self) -> dict[str, str]:
        return {deployment_id: loaded.ref.version_id for deployment_id, loaded in self._prepared.items()}

    def follow(self, views: Iterable[DeploymentView]) -> Plan:
        """Take the current views; drop what they no longer name and say what to load.

        A champion whose version is already prepared is promoted at once: that is the
        second phase of a swap across processes, and it needs no load.
        """
        self._views = {view.id: view for view in views}
        self._names = {view.serving_name: view.id for view in self._views.values() if view.serving_name}
        self._humble = {view.id: view.humility for view in self._views.values() if view.humility is not None}
        for deployment_id in [d for d in self._loaded if d not in self._views or self._views[d].dropped]:
            self._soon(self.remove(deployment_id))
        plan = Plan()
        for view in self._views.values():
            wanted = {view.champion, view.candidate}
            if view.id in self._prepared and self._prepared[view.id].ref not in wanted:
                self._soon(self.discard(view.id))
            if view.serves and (self.serving(view.id) != view.champion or self._form_changed(view)):
                if self.prepared(view.id) == view.champion:
                    self._soon(self.promote(view.id))
                else:
                    plan.load.append(view)
            if view.candidate is not None and view.candidate not in (self.serving(view.id), self.prepared(view.id)):
                plan.prepare.append(view)
        for deployment_id in [d for d in self._prepared if d not in self._views]:
            self._soon(self.discard(deployment_id))
        return plan

    def _form_changed(self, view: DeploymentView) -> bool:
        """The champion is loaded, but compilation was allowed or refused since: load it again."""
        loaded = self._loaded.get(view.id)
        return loaded is not None and loaded.compiled != view.compiled

    def _soon(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a swap or release in the background, keeping a reference so it is not collected."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _release(self, old: Loaded) -> None:
        """Once the deployment's requests using `old` have drained, let go of it; the model itself is
        closed when no other deployment uses it."""
        await old.idle.wait()
        shared = old.shared
        if shared is not None:
            shared.users -= 1
            if shared.users > 0:
                return
            if self._models.get(shared.key) is shared:
                del self._models[shared.key]
        await old.batcher.close()
        self.metrics.model_released()
        logger.info("released model %s rev %s", old.ref.model_id, old.ref.number)

    def _lock(self, deployment_id: str) -> asyncio.Lock:
        return self._locks.setdefault(deployment_id, asyncio.Lock())

    async def close(self) -> None:
        for deployment_id in list(self._prepared):
            await self.discard(deployment_id)
        for deployment_id in list(self._loaded):
            await self.remove(deployment_id)
        self._large.close()


FROZEN_GROWTH_SWEPT = 0.25
"""How much the frozen objects may grow from what the last sweep left before they are swept again:
a quarter, as CPython's own collector waits for a quarter more long-lived objects before a full
collection."""


class _Frozen:
    """Freezes what is alive once a model is loaded, without freezing garbage for good.

    `gc.freeze()` moves every object the collector tracks into a permanent generation it never
    collects. Frozen cyclic garbage is never freed, so the collector first collects what is garbage
    already: among the objects made since the last freeze, so a few thousand at most once serving
    (swapping models froze some 750 objects of garbage per swap, 130 KiB and more of the server's
    memory, all of it kept). What was still in use when frozen and let go since (a statement evicted
    from a cache, a request's session) is garbage only the full collection of everything, frozen or
    not, finds: a tenth of a second of the event loop, so only once the frozen objects have grown by
    `FROZEN_GROWTH_SWEPT` (some 10 objects a swap: a sweep every few thousand swaps).
    """

    def __init__(self) -> None:
        self._after_sweep: int | None = None
        """How many objects were frozen after the last sweep (or the first freeze this engine made)."""

    def freeze(self) -> None:
        if not gc.isenabled():
            # Start-up (`champion.server`): the collector is off until the app has loaded its models and
            # frozen them; collecting here would walk every object start-up made.
            gc.freeze()
            return
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        if self._after_sweep is None:
            self._after_sweep = frozen
        elif frozen > self._after_sweep * (1 + FROZEN_GROWTH_SWEPT):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._after_sweep = gc.get_freeze_count()


def _load_and_warm(ref: VersionRef, path: Path, compiled: bool = True) -> LoadedModel:
    if compiled:
        # A compiled form that matched this very file before serves at once: a restart need not load the
        # native model (nor import its framework) to check it again.
        kept = compiled_form.kept(path, ref.framework, sha256=ref.sha256)
        if kept is None and compiled_form.check_apart(path, ref.framework, sha256=ref.sha256):
            # Checked for the first time, by a process of its own: the native model stays out of this one.
            kept = compiled_form.kept(path, ref.framework, sha256=ref.sha256)
        if kept is not None:
            try:
                warm_up(kept, ref.signature)
                return kept
            except Exception as exc:  # the native model decides, as when nothing was kept
                logger.warning("the kept compiled form of model %s failed its warm-up: %s", ref.model_id, exc)
    model = load(path, ref.framework)
    warm_up(model, ref.signature)
    if compiled:
        # The compiled form replaces the native one only after matching it (`runtimes/compiled.py`).
        served = compiled_form.serving(model, path, sha256=ref.sha256)
        if served is not model:
            warm_up(served, ref.signature)
        return served
    return model
