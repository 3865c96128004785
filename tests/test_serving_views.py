"""The serving views: a change rebuilds only the deployment it touched, and reads no replacement history.

Retired fields (features an earlier champion took and the current one does not) come from the
deployment's own row, kept when a swap commits: right after a swap, after a rollback, and whatever the
number of earlier replacements.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from champion.context import ServerContext
from champion.deployments import lifecycle, settings
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.types import Kind, State
from champion.replacement import service as replacement
from champion.serving.engine import DeploymentView
from champion.serving_views import ServingViews
from champion.users.service import Actor
from tests.model_files import FEATURES
from tests.replacement.test_rollback_target import finish
from tests.replacement.test_service import add_version, live, start, variants

__all__ = ["live", "variants"]  # fixtures shared with test_service


@contextmanager
def statements(context: ServerContext) -> Iterator[list[str]]:
    """The SQL statements run on the database meanwhile."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(context.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(context.engine, "before_cursor_execute", record)


def read(context: ServerContext, views: ServingViews) -> dict[str, DeploymentView]:
    with context.sessions() as session:
        built, _ = views.read(session)
    return {view.id: view for view in built}


def more_deployments(context: ServerContext, alice: Actor, live: dict[str, Any], count: int) -> list[str]:
    ids = []
    with context.sessions() as session:
        for n in range(count):
            new = NewDeployment(name=f"other-{n}", kind=Kind.ONLINE, model_id=live["model"])
            described, _ = deployments.create(session, alice, space_id=live["space"], new=new)
            lifecycle.deployed(session, deployment_id=described.deployment.id, version_id=described.version.id)
            session.commit()
            ids.append(described.deployment.id)
    return ids


def swap(context: ServerContext, alice: Actor, live: dict[str, Any], rev: int) -> None:
    finish(context, start(context, alice, live, rev))


def test_a_change_rebuilds_only_its_deployment_and_reads_no_history(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    others = more_deployments(context, alice, live, 4)
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    views = ServingViews()
    first = read(context, views)
    assert views.rebuilt == 5 and set(first) == {live["deployment"], *others}
    for n in range(6):  # earlier replacements: none of them is read again
        swap(context, alice, live, 2 if n % 2 == 0 else 1)
    with statements(context) as run:
        after = read(context, views)
    assert views.rebuilt == 1
    assert not [s for s in run if "replacement_records" in s]
    assert after[live["deployment"]].champion.number == 1  # six swaps: back on rev 1
    assert all(after[d] is first[d] for d in others)  # kept as they were, not rebuilt
    # Nothing changed: nothing is rebuilt, and only the marks are read.
    with statements(context) as run:
        again = read(context, views)
    assert views.rebuilt == 0 and len(run) == 1 and again == after


def test_settings_states_candidates_and_deletes_are_followed(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    (other,) = more_deployments(context, alice, live, 1)
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    views = ServingViews()
    before = read(context, views)
    assert before[other].capture is not None  # capture is on by default
    with context.sessions() as session:
        kept = settings.stored(session, deployment_id=other)
        off = kept.model_copy(
            update={
                "predictions_data_collection": kept.predictions_data_collection.model_copy(update={"enabled": False})
            }
        )
        settings.keep(session, deployment_id=other, settings=off)
        session.commit()
    changed = read(context, views)
    assert views.rebuilt == 1 and changed[other].capture is None
    assert changed[other].settings_digest == settings.digest(off)
    started = start(context, alice, live, 2)  # a replacement names its candidate
    named = read(context, views)
    assert views.rebuilt == 1
    candidate = named[live["deployment"]].candidate
    assert named[live["deployment"]].state == State.UPDATING
    assert candidate is not None and candidate.number == 2
    finish(context, started)
    swapped = read(context, views)[live["deployment"]]
    assert (swapped.champion.number, swapped.candidate, swapped.state) == (2, None, State.READY)
    with context.sessions() as session:
        deployments.deactivate(session, alice, deployment_id=other)
    inactive = read(context, views)
    assert views.rebuilt == 1 and not inactive[other].serves
    with context.sessions() as session:
        deployments.delete(session, alice, deployment_id=other)
    assert set(read(context, views)) == {live["deployment"]} and views.rebuilt == 0


def test_retired_fields_follow_swaps_and_rollbacks(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["fewer_features"], tmp_path)  # rev 2 takes x1, x2
    views = ServingViews()
    assert read(context, views)[live["deployment"]].retired_fields == frozenset()
    dropped = frozenset(FEATURES) - {"x1", "x2"}
    assert dropped

    def retired() -> tuple[frozenset[str], frozenset[str]]:
        with context.sessions() as session:
            stored = replacement.retired_fields(session, deployment_id=live["deployment"])
        return read(context, views)[live["deployment"]].retired_fields, stored.get(live["deployment"], frozenset())

    swap(context, alice, live, 2)
    assert retired() == (dropped, dropped)  # the features rev 1 took stay accepted
    with context.sessions() as session:
        back = replacement.rollback(session, alice, context.store, deployment_id=live["deployment"])
    finish(context, back)
    assert retired() == (frozenset(), frozenset())  # rev 1 takes them all again
    swap(context, alice, live, 2)
    assert retired() == (dropped, dropped)


def test_the_migration_fills_earlier_features_from_the_history(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    from alembic import command
    from alembic.config import Config

    from champion.db import MIGRATIONS

    add_version(context, alice, live["model"], variants["fewer_features"], tmp_path)
    swap(context, alice, live, 2)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with context.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")  # as stored before deployments kept their earlier features
        command.upgrade(config, "head")
    with context.sessions() as session:
        stored = replacement.retired_fields(session, deployment_id=live["deployment"])
    assert stored == {live["deployment"]: frozenset(FEATURES) - {"x1", "x2"}}
