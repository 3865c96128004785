"""PostgreSQL notifications wake a follower at once, and a lost connection comes back by itself.

The follower here polls once a minute: a change it applies within seconds can only have
reached it through the listener. A notification is sent only if the change commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from champion import changes
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.follower import Follower
from champion.notifications import Listener
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache
from champion.users import service as users

NEVER = 60.0
"""The follower's poll interval in these tests, listening or not: far beyond any wait below."""
WITHIN = 15.0
"""How long a test waits for the follower to act: generous, and still far short of `NEVER`."""


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WITHIN
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"{what} within {WITHIN:.0f} s"
        await asyncio.sleep(0.01)


def add_user(context: ServerContext, name: str) -> None:
    with context.sessions() as session:
        users.create_user(session, name=name)  # bumps the auth counter, and commits


def listener_pids(context: ServerContext) -> list[int]:
    with context.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'champion-listener'"
                " AND datname = current_database()"
            )
        )
        return [row[0] for row in rows]


async def following(context: ServerContext) -> tuple[Listener, Follower, AccessCache]:
    """A live listener, then a follower that has caught up, subscribed only then: nothing wakes it
    but notifications sent from now on."""
    listener = Listener.for_engine(context.engine)
    listener.start()
    await until(listener.is_live, "the listener connected")
    access = AccessCache()
    follower = Follower(
        context.sessions,
        ServingEngine(),
        access,
        context.store,
        process="test",
        interval=NEVER,
        relaxed_interval=NEVER,
        listening=listener.is_live,
    )
    await follower.start()
    listener.on(changes.Topic, follower.wake)
    return listener, follower, access


def test_a_committed_change_wakes_the_follower_long_before_its_poll(postgres_context: ServerContext) -> None:
    async def scenario() -> None:
        listener, follower, access = await following(postgres_context)
        try:
            before = access.generation
            await asyncio.to_thread(add_user, postgres_context, "carol")
            await until(lambda: access.generation > before, "the follower reloaded the access cache")
        finally:
            await follower.stop()
            await listener.stop()

    asyncio.run(scenario())


def test_a_rolled_back_change_wakes_nobody(postgres_context: ServerContext) -> None:
    heard: list[str] = []

    def roll_back() -> None:
        with postgres_context.sessions() as session:
            changes.bump(session, changes.Topic.DEPLOYMENTS)
            session.rollback()
            changes.announce(session, "committed")
            session.commit()

    async def scenario() -> None:
        listener = Listener.for_engine(postgres_context.engine)
        listener.start()
        try:
            await until(listener.is_live, "the listener connected")
            listener.on(["deployments", "committed"], lambda: heard.append("a notification"))
            listener.on(["committed"], lambda: heard.append("committed"))
            await asyncio.to_thread(roll_back)
            await until(lambda: "committed" in heard, "the committed notification arrived")
        finally:
            await listener.stop()

    asyncio.run(scenario())
    # Notifications arrive in commit order: the rolled back bump would have come first.
    assert heard == ["a notification", "committed"]


def test_a_lost_connection_is_made_again_and_wakes_the_follower(postgres_context: ServerContext) -> None:
    async def scenario() -> None:
        listener, follower, access = await following(postgres_context)
        try:
            (pid,) = await asyncio.to_thread(listener_pids, postgres_context)
            with postgres_context.engine.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await until(lambda: not listener.is_live(), "the listener noticed its connection was gone")
            await until(listener.is_live, "the listener connected again")
            assert await asyncio.to_thread(listener_pids, postgres_context) != [pid]
            before = access.generation
            await asyncio.to_thread(add_user, postgres_context, "dave")
            await until(lambda: access.generation > before, "the follower reloaded the access cache")
        finally:
            await follower.stop()
            await listener.stop()

    asyncio.run(scenario())


def test_on_sqlite_nothing_listens_and_the_follower_polls(tmp_path: Path) -> None:
    context = open_context(Settings(home=tmp_path / "home"))
    try:
        listener = Listener.for_engine(context.engine)

        async def scenario() -> None:
            listener.start()
            assert not listener.is_live()
            await listener.stop()

        asyncio.run(scenario())
        with context.sessions() as session:
            changes.bump(session, changes.Topic.AUTH)  # no pg_notify on SQLite: this must not fail
            session.commit()
    finally:
        context.close()
