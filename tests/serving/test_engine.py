"""The engine's swap: one champion at a time, answers wholly from one model, old models drained."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import numpy as np
import pytest

from champion.context import ServerContext
from champion.deployments import scoring
from champion.deployments.errors import NotReady
from champion.runtimes import Feature, FeatureType, Framework, Prediction, Signature, Target, TargetType
from champion.serving.batching import MicroBatcher
from champion.serving.engine import DeploymentView, Loaded, ServingEngine, VersionRef
from champion.spaces import service as spaces
from champion.spaces.access import AccessCache
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor

SIGNATURE = Signature(features=(Feature("x", FeatureType.DOUBLE),), target=Target(TargetType.REGRESSION))


@dataclass
class ConstantModel:
    """Answers its own constant, optionally holding each call until released."""

    value: float
    gate: threading.Event | None = None
    framework: Framework = Framework.SKLEARN

    def signature(self) -> Signature:
        return SIGNATURE

    def predict(self, rows: np.ndarray) -> Prediction:
        if self.gate is not None:
            self.gate.wait(5)
        return Prediction(labels=np.full(len(rows), self.value), probabilities=None)


def loaded(value: float, gate: threading.Event | None = None) -> Loaded:
    model = ConstantModel(value, gate)
    ref = VersionRef(f"v{value}", "m", int(value), Framework.SKLEARN, "0" * 64, SIGNATURE)
    return Loaded(ref=ref, model=model, batcher=MicroBatcher(model.predict))


ROW = np.zeros((1, 1))


def test_requests_in_flight_finish_on_the_old_model_and_new_ones_get_the_new() -> None:
    async def scenario() -> None:
        engine = ServingEngine()
        gate = threading.Event()
        old = loaded(1.0, gate)
        await engine.install("d", old)
        in_flight = asyncio.create_task(engine.predict("d", ROW))
        await asyncio.sleep(0.05)
        swap = asyncio.create_task(engine.install("d", loaded(2.0)))
        await asyncio.sleep(0.05)
        after = await engine.predict("d", ROW)
        assert after.version.number == 2 and after.prediction.labels[0] == 2.0
        assert not swap.done(), "the old model must not be released while a request uses it"
        gate.set()
        answer = await in_flight
        assert answer.version.number == 1 and answer.prediction.labels[0] == 1.0
        await swap
        assert old.batcher.pending_rows == 0
        await engine.close()

    asyncio.run(scenario())


def test_a_request_larger_than_the_queue_is_answered_wholly_by_the_model_it_started_on() -> None:
    """Its chunks go one by one through the batcher of the model it picked up: a swap between two
    chunks must not hand the rest to the new model (once, it was refused outright as a full queue)."""

    async def scenario() -> None:
        engine = ServingEngine()
        gate = threading.Event()
        old = loaded(1.0, gate)
        await engine.install("d", old)
        large = asyncio.create_task(engine.predict("d", np.zeros((10_000, 1))))
        await asyncio.sleep(0.05)  # its first chunk is in the old model, held
        swap = asyncio.create_task(engine.install("d", loaded(2.0)))
        await asyncio.sleep(0.05)
        assert (await engine.predict("d", ROW)).version.number == 2
        assert not swap.done(), "the old model must not be released while a large request still uses it"
        gate.set()
        answer = await large
        assert answer.version.number == 1
        assert len(answer.prediction.labels) == 10_000 and (answer.prediction.labels == 1.0).all()
        await swap
        assert old.batcher.pending_rows == 0
        await engine.close()

    asyncio.run(scenario())


def test_many_concurrent_requests_during_swaps_never_fail_or_mix() -> None:
    async def scenario() -> None:
        engine = ServingEngine()
        await engine.install("d", loaded(1.0))

        async def client() -> list[tuple[int, float]]:
            seen = []
            for _ in range(50):
                answer = await engine.predict("d", ROW)
                seen.append((answer.version.number, float(answer.prediction.labels[0])))
                await asyncio.sleep(0)
            return seen

        async def swapper() -> None:
            for i in range(20):
                await engine.install("d", loaded(float(2 + i % 2)))
                await asyncio.sleep(0.001)

        results = await asyncio.gather(*(client() for _ in range(20)), swapper())
        for seen in results[:-1]:
            assert seen is not None
            assert all(number == value for number, value in seen), "an answer mixed two versions"
        await engine.close()

    asyncio.run(scenario())


def test_follow_reports_what_to_load_and_drops_the_rest() -> None:
    from champion.serving.engine import DeploymentView

    async def scenario() -> None:
        engine = ServingEngine()
        first = loaded(1.0)
        await engine.install("a", first)
        await engine.install("gone", loaded(5.0))
        view = DeploymentView("a", "s", "a", "online", "ready", None, loaded(2.0).ref, serves=True, dropped=False)
        plan = engine.follow([view])
        assert [v.id for v in plan.load] == ["a"] and plan.prepare == []
        await asyncio.sleep(0.05)
        assert engine.serving("gone") is None
        assert engine.resolve("a") == view
        await engine.close()

    asyncio.run(scenario())


def test_a_prepared_candidate_is_flipped_in_without_a_load() -> None:
    import dataclasses

    from champion.serving.engine import DeploymentView

    async def scenario() -> None:
        engine = ServingEngine()
        champion, candidate = loaded(1.0), loaded(2.0)
        await engine.install("a", champion)
        view = DeploymentView("a", "s", "a", "online", "updating", None, champion.ref, serves=True, dropped=False)
        phase_one = dataclasses.replace(view, candidate=candidate.ref)
        assert [v.id for v in engine.follow([phase_one]).prepare] == ["a"]
        await engine.prepare("a", candidate)
        assert engine.follow([phase_one]).prepare == []
        assert (await engine.predict("a", ROW)).version.number == 1, "a prepared model serves nothing yet"
        phase_two = dataclasses.replace(view, champion=candidate.ref)
        plan = engine.follow([phase_two])
        assert plan.load == [] and plan.prepare == []
        await asyncio.sleep(0.05)
        assert (await engine.predict("a", ROW)).version.number == 2
        assert engine.prepared_map() == {} and engine.serving_map() == {"a": candidate.ref.version_id}
        await engine.close()

    asyncio.run(scenario())


def test_a_process_holding_the_champion_answers_while_its_view_still_says_initializing(
    context: ServerContext, alice: Actor
) -> None:
    with context.sessions() as session:
        space = spaces.create_space(session, alice, details=SpaceDetails(name="s"))
        access = AccessCache()
        access.reload(session)

    async def scenario() -> None:
        engine = ServingEngine()
        champion = loaded(1.0)
        view = DeploymentView(
            "d", space.id, "d", "online", "initializing", None, champion.ref, serves=True, dropped=False
        )
        engine.follow([view])
        with pytest.raises(NotReady):
            scoring.resolve(engine, access, alice, "d")
        await engine.install("d", champion)
        assert scoring.resolve(engine, access, alice, "d") == view
        await engine.close()

    asyncio.run(scenario())
