"""Swapping models does not keep garbage for good: what a load freezes is never garbage already, and
what was still in use when frozen is swept once the frozen objects have grown enough.

A load freezes what is alive (`gc.freeze()`, so that full collections on the prediction path do not
walk the model). The collector never collects frozen objects: cyclic garbage frozen with them was
never freed, some 750 objects per swap in a server (`make bench-growth`: 130 KiB and more per swap).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from champion.runtimes import Framework
from champion.serving import engine as engine_module
from champion.serving.engine import ServingEngine, VersionRef
from tests.serving.test_engine import SIGNATURE, ConstantModel


@dataclass(eq=False)
class Cycle:
    """Cyclic garbage once let go: only the collector frees it. `nodes` refer back to it."""

    nodes: list[list[Any]] = field(default_factory=list)

    @classmethod
    def of(cls, size: int) -> Cycle:
        cycle = cls()
        cycle.nodes.extend([cycle] for _ in range(size))
        return cycle


def ref(number: int) -> VersionRef:
    return VersionRef(f"v{number}", "m", number, Framework.SKLEARN, "0" * 64, SIGNATURE)


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Other tests find the collector as it was: nothing frozen, its thresholds and switch as before."""
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if enabled:
            gc.enable()
        gc.unfreeze()


def test_garbage_made_before_a_load_is_collected_rather_than_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_load_and_warm", lambda ref, path, compiled=True: ConstantModel(1.0))
    gc.set_threshold(0)  # the collector is on, but collects nothing of its own accord: only the engine does
    garbage = Cycle.of(10)
    collected = weakref.ref(garbage)
    del garbage

    async def scenario() -> None:
        engine = ServingEngine()
        await engine.load(ref(1), Path("model"))
        await engine.close()

    asyncio.run(scenario())
    assert collected() is None


def test_while_the_collector_is_off_a_load_collects_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up keeps the collector off until its models are loaded: a load does not walk what it made."""
    monkeypatch.setattr(engine_module, "_load_and_warm", lambda ref, path, compiled=True: ConstantModel(1.0))
    gc.disable()
    garbage = Cycle.of(10)
    kept = weakref.ref(garbage)
    del garbage

    async def scenario() -> None:
        engine = ServingEngine()
        await engine.load(ref(1), Path("model"))
        await engine.close()

    asyncio.run(scenario())
    assert kept() is not None


def test_what_was_in_use_when_frozen_is_freed_within_a_few_swaps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each load leaves in a cache an object still in use when the load freezes, evicted by the next
    load (as a statement cache evicts its oldest): garbage among the frozen objects, which only a sweep
    of them frees. Each is an eighth of the objects alive, so the frozen objects grow by a quarter
    within three swaps; after twelve swaps, most are gone."""
    size = max(10_000, (gc.get_freeze_count() + len(gc.get_objects())) // 8)
    cache: list[Cycle] = []
    cached: list[weakref.ref[Cycle]] = []

    def load_and_warm(ref: VersionRef, path: Path, compiled: bool = True) -> ConstantModel:
        cache[:] = [Cycle.of(size)]  # the previous one evicted: garbage from now on
        cached.append(weakref.ref(cache[0]))
        return ConstantModel(float(ref.number))

    monkeypatch.setattr(engine_module, "_load_and_warm", load_and_warm)

    async def scenario() -> None:
        engine = ServingEngine()
        for swap in range(12):
            await engine.install("a", await engine.load(ref(swap % 2 + 1), Path("model")))
        await engine.close()

    asyncio.run(scenario())
    alive = sum(1 for c in cached if c() is not None)
    assert len(cached) == 12 and alive <= 4
