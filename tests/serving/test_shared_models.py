"""Deployments serving the same model version share one copy of it, and its batcher.

Ten deployments of one version hold one model in memory, and their concurrent requests are answered
in shared model calls rather than ten calls of a few rows each. The copy is let go only when the last
deployment using it has drained.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from pathlib import Path

import numpy as np
import pytest

from champion.runtimes import Framework, Signature
from champion.runtimes import compiled as compiled_form
from champion.runtimes.base import Target, TargetType
from champion.serving import engine as engine_module
from champion.serving.batching import MicroBatcher
from champion.serving.engine import ServingEngine, VersionRef
from tests.serving.test_engine import SIGNATURE, ConstantModel

ROW = np.zeros((1, 1))


class CountingModel(ConstantModel):
    """A ConstantModel that records the size of each call."""

    def __init__(self, value: float, gate: threading.Event | None = None) -> None:
        super().__init__(value, gate)
        self.calls: list[int] = []

    def predict(self, rows: np.ndarray):  # type: ignore[no-untyped-def]
        self.calls.append(len(rows))
        return super().predict(rows)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[CountingModel]:
    """Every model the engine loads (a CountingModel answering its version number), in order."""
    made: list[CountingModel] = []

    def load_and_warm(ref: VersionRef, path: Path, compiled: bool = True) -> CountingModel:
        model = CountingModel(float(ref.number), threading.Event())
        made.append(model)
        return model

    monkeypatch.setattr(engine_module, "_load_and_warm", load_and_warm)
    return made


def ref(number: int) -> VersionRef:
    return VersionRef(f"v{number}", "m", number, Framework.SKLEARN, "0" * 64, SIGNATURE)


def test_deployments_of_one_version_share_one_copy_and_its_model_calls(loads: list[CountingModel]) -> None:
    async def scenario() -> None:
        engine = ServingEngine()
        first = await engine.load(ref(1), Path("model"))
        second = await engine.load(ref(1), Path("model"))
        assert len(loads) == 1 and first.model is second.model and first.batcher is second.batcher
        await engine.install("a", first)
        await engine.install("b", second)
        (model,) = loads
        held = asyncio.create_task(engine.predict("a", ROW))  # the model's first call, held at the gate
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(engine.predict(d, ROW)) for d in ("a", "b", "b", "a")]
        await asyncio.sleep(0.05)
        model.gate.set()  # type: ignore[union-attr]
        answers = await asyncio.gather(held, *waiting)
        assert all(answer.prediction.labels[0] == 1.0 for answer in answers)
        # The four requests to two deployments waited together and were answered in one call.
        assert model.calls == [1, 4]
        await engine.close()

    asyncio.run(scenario())


def test_the_copy_is_let_go_when_the_last_deployment_using_it_has(loads: list[CountingModel]) -> None:
    async def scenario() -> None:
        engine = ServingEngine()
        await engine.install("a", await engine.load(ref(1), Path("model")))
        await engine.install("b", await engine.load(ref(1), Path("model")))
        loads[0].gate.set()  # type: ignore[union-attr]
        assert engine.metrics._loaded._value.get() == 1  # one model in memory for two deployments
        await engine.remove("a")
        assert (await engine.predict("b", ROW)).prediction.labels[0] == 1.0, "b still serves the shared copy"
        # A swap of b to another version lets the copy go (still one model in memory, the new one) ...
        await engine.install("b", await engine.load(ref(2), Path("model")))
        assert engine.metrics._loaded._value.get() == 1
        # ... so version 1 is loaded anew when a deployment asks for it again.
        await engine.install("a", await engine.load(ref(1), Path("model")))
        assert len(loads) == 3
        await engine.close()

    asyncio.run(scenario())


def test_a_version_loaded_compiled_and_not_is_two_copies(loads: list[CountingModel]) -> None:
    async def scenario() -> None:
        engine = ServingEngine()
        compiled = await engine.load(ref(1), Path("model"), compiled=True)
        native = await engine.load(ref(1), Path("model"), compiled=False)
        assert len(loads) == 2 and compiled.model is not native.model
        await engine.install("a", compiled)
        await engine.install("b", native)
        await engine.close()

    asyncio.run(scenario())


def test_small_batches_of_a_cheap_model_are_answered_on_the_event_loop() -> None:
    """`inline_rows`: up to that many rows are predicted on the loop's own thread, more on the model's."""
    threads: list[str] = []

    def predict(rows: np.ndarray):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return ConstantModel(1.0).predict(rows)

    async def scenario() -> None:
        batcher = MicroBatcher(predict, inline_rows=2)
        await batcher.predict(np.zeros((2, 1)))
        await batcher.predict(np.zeros((3, 1)))
        await batcher.close()

    asyncio.run(scenario())
    assert threads[0] == threading.main_thread().name
    assert threads[1].startswith("champion-batch")


def test_what_a_load_made_is_out_of_the_collectors_reach(loads: list[CountingModel]) -> None:
    """A model deployed after start-up is frozen as start-up's objects are: full collections on the
    prediction path do not walk it."""

    async def scenario() -> None:
        engine = ServingEngine()
        before = gc.get_freeze_count()
        loaded = await engine.load(ref(1), Path("model"))
        assert gc.get_freeze_count() > before
        assert not any(loaded.model is o for o in gc.get_objects(generation=2))
        await engine.install("a", loaded)
        await engine.close()

    try:
        asyncio.run(scenario())
    finally:
        gc.unfreeze()


class GatedSession:
    """An ONNX Runtime session's surface for `CompiledModel`: records each call's rows and thread; held at a gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[tuple[int, str]] = []

    def get_inputs(self) -> list[object]:
        return [type("Input", (), {"name": "x"})()]

    def get_outputs(self) -> list[object]:
        return [type("Output", (), {"name": "probabilities"})()]

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        rows = feeds["x"]
        self.calls.append((len(rows), threading.current_thread().name))
        self.gate.wait(10)
        return [np.tile([0.25, 0.75], (len(rows), 1))]


def test_a_compiled_model_answers_small_batches_inline_and_large_requests_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = GatedSession()
    signature = Signature(SIGNATURE.features, Target(TargetType.BINARY, (0, 1)))
    model = compiled_form.CompiledModel(
        session, compiled_form.ServingForm(compiled_form.ONNX_FORM), signature, Framework.SKLEARN, None
    )
    monkeypatch.setattr(engine_module, "_load_and_warm", lambda ref, path, compiled=True: model)

    async def scenario() -> None:
        engine = ServingEngine()
        await engine.install("a", await engine.load(ref(1), Path("model")))
        session.gate.set()
        await engine.predict("a", np.zeros((engine_module.INLINE_ROWS, 1)))
        session.gate.clear()
        large = engine_module.ALONE_ROWS
        held = asyncio.create_task(engine.predict("a", np.zeros((large, 1))))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(engine.predict("a", np.zeros((large, 1)))) for _ in range(3)]
        await asyncio.sleep(0.05)
        session.gate.set()
        await asyncio.gather(held, *waiting)
        await engine.close()

    asyncio.run(scenario())
    (inline, *alone) = session.calls
    assert inline == (engine_module.INLINE_ROWS, threading.main_thread().name)
    # Never merged, as a native model's waiting requests are (above): one call per large request.
    assert [rows for rows, _ in alone] == [engine_module.ALONE_ROWS] * 4
    assert all(thread != threading.main_thread().name for _, thread in alone)
