"""What the validation engine knows about a replacement: frozen facts the caller gathers, so checks do no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from champion.runtimes.base import Framework, Signature


@dataclass(frozen=True)
class ModelFacts:
    """One model version, as the registry knows it.

    `artifact_intact` and `loads` are computed by the caller (hashing the stored blob, a trial
    load with a warm-up on sample rows) so that every check stays a pure function.
    """

    version_id: str
    model_id: str
    number: int
    framework: Framework
    model_type: str  # as WML names it, e.g. "scikit-learn_1.3"
    signature: Signature
    artifact_intact: bool  # the stored blob still hashes to the recorded sha256
    loads: bool | None = None  # a trial load + warm-up succeeded; None: not tried
    load_error: str | None = None  # why the trial load failed, when it did


@dataclass(frozen=True)
class ReplacementFacts:
    """The deployment's current champion, the candidate to replace it, and the caller's standing."""

    current: ModelFacts
    candidate: ModelFacts
    may_replace: bool  # the caller's role allows replacing this deployment's model
    deployment_state: str  # a champion.deployments.types.State value: ready, updating, initializing, failed
    retired_fields: frozenset[str] = frozenset()  # features earlier champions took and the current one does not
