"""Rollback to a chosen target: before a recorded replacement, or to a revision that served before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from champion.context import ServerContext
from champion.deployments import lifecycle
from champion.deployments.tables import Deployment
from champion.errors import InvalidInput, ValidationFailed
from champion.models.tables import ModelVersion
from champion.replacement import service as replacement
from champion.replacement.errors import NothingToRollBack
from champion.replacement.tables import ReplacementRecord
from champion.replacement.types import Kind, Outcome, ReplacePayload
from champion.users.service import Actor
from tests.replacement.test_service import add_version, live, start, variants

__all__ = ["live", "variants"]  # fixtures shared with test_service


def finish(context: ServerContext, started: replacement.Started) -> None:
    """What the replace handler commits when the swap succeeds (promote, ready, record closed)."""
    payload = ReplacePayload.model_validate(started.operation.payload)
    with context.sessions() as session:
        deployment = session.get(Deployment, started.described.deployment.id)
        version = session.get(ModelVersion, payload.to_version_id)
        assert deployment is not None and version is not None
        lifecycle.promote(session, deployment, version_id=version.id, model_id=version.model_id)
        lifecycle.replacement_succeeded(session, deployment_id=deployment.id)
        record = session.get(ReplacementRecord, started.record.id)
        assert record is not None
        record.outcome = Outcome.SUCCEEDED.value
        session.commit()


def revision_of(context: ServerContext, version_id: str) -> int:
    with context.sessions() as session:
        version = session.get(ModelVersion, version_id)
        assert version is not None
        return version.number


@pytest.fixture
def history(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> dict[str, Any]:
    """The deployment served rev 1, then 2, then serves 3; rev 4 never served it."""
    for name in ("retrained", "fewer_features", "retrained"):
        add_version(context, alice, live["model"], variants[name], tmp_path)
    first = start(context, alice, live, 2)
    finish(context, first)
    second = start(context, alice, live, 3)
    finish(context, second)
    return {**live, "first": first.record.id, "second": second.record.id}


def rollback(context: ServerContext, actor: Actor, live: dict[str, Any], to: Any) -> replacement.Started:
    with context.sessions() as session:
        return replacement.rollback(session, actor, context.store, deployment_id=live["deployment"], to=to)


def test_each_target_names_its_version_and_starts_a_rollback_through_the_checks(
    context: ServerContext, alice: Actor, history: dict[str, Any]
) -> None:
    with context.sessions() as session:

        def target(to: replacement.RollbackTo) -> int | None:
            version = replacement.rollback_target(session, alice, deployment_id=history["deployment"], to=to)
            return version.number if version else None

        assert target(None) == 2  # the plain call: before the last change
        assert target(replacement.BeforeReplacement(history["first"])) == 1  # "the model before this one"
        assert target(replacement.BeforeReplacement(history["second"])) == 2
        assert target(replacement.EarlierRevision(rev=1)) == 1
        assert target(replacement.EarlierRevision(rev=1, model_id=history["model"])) == 1
    started = rollback(context, alice, history, replacement.BeforeReplacement(history["first"]))
    assert started.record.kind == Kind.ROLLBACK.value
    assert revision_of(context, started.record.to_version_id) == 1
    assert revision_of(context, started.record.from_version_id) == 3
    assert started.report.status in ("passing", "warning")  # the checks ran on the target
    finish(context, started)
    # A plain rollback now returns to what the targeted one replaced: the history decides, not a toggle flag.
    with context.sessions() as session:
        plain = replacement.rollback_target(session, alice, deployment_id=history["deployment"])
    assert plain is not None and plain.number == 3


def test_a_target_that_never_served_or_is_not_in_the_history_is_refused_naming_it(
    context: ServerContext, alice: Actor, history: dict[str, Any]
) -> None:
    for to in (
        replacement.EarlierRevision(rev=4),  # exists, never the champion
        replacement.EarlierRevision(rev=99),  # does not exist
        replacement.EarlierRevision(rev=1, model_id="00000000-0000-4000-8000-000000000000"),
    ):
        with pytest.raises(InvalidInput, match="never served this deployment") as error:
            rollback(context, alice, history, to)
        assert error.value.field == "asset.rev"
    with pytest.raises(InvalidInput, match="history") as error:
        rollback(context, alice, history, replacement.BeforeReplacement("no-such-record"))
    assert error.value.field == "replacement_id"
    with context.sessions() as session:
        assert session.get(Deployment, history["deployment"]).state == "ready"  # type: ignore[union-attr]


def test_the_current_champion_as_a_target_is_refused_by_the_checks(
    context: ServerContext, alice: Actor, history: dict[str, Any]
) -> None:
    with pytest.raises(ValidationFailed, match="notCurrentModel"):
        rollback(context, alice, history, replacement.EarlierRevision(rev=3))


def test_a_fresh_deployment_has_nothing_to_roll_back_to_even_by_revision(
    context: ServerContext, alice: Actor, live: dict[str, Any]
) -> None:
    with pytest.raises(NothingToRollBack):
        rollback(context, alice, live, None)
    with pytest.raises(InvalidInput, match="never served"):
        rollback(context, alice, live, replacement.EarlierRevision(rev=1))
