"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and tiny real model files."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.users import service as users
from champion.users.service import Actor
from tests.model_files import ModelFiles, build

# The CLI's Rich consoles are made at import and keep the COLUMNS they saw then for good. Imported here,
# with no COLUMNS set, they measure the width at every print instead, so each test's own COLUMNS (its
# CliRunner env or monkeypatch) holds whichever test module happens to import the CLI first. These are
# the modules that make consoles (`champion.cli` imports a command's module only when it runs).
os.environ.pop("COLUMNS", None)
import champion.cli.client
import champion.cli.users  # noqa: F401

POSTGRES_URL = os.environ.get("CHAMPION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("CHAMPION_REQUIRE_POSTGRES") == "1"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"CHAMPION_REQUIRE_POSTGRES=1 but PostgreSQL at {POSTGRES_URL} is unreachable: {problem}")
    pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({problem}); set CHAMPION_TEST_POSTGRES_URL to run these")


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped when the block ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with throwaway_postgres("champion_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'champion.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, max_upload_bytes=5_000_000)


@pytest.fixture
def context(settings: Settings) -> Iterator[ServerContext]:
    context = open_context(settings)
    yield context
    context.close()


@pytest.fixture
def postgres_context(postgres_url: str, tmp_path: Path) -> Iterator[ServerContext]:
    """A server context on a throwaway PostgreSQL database (for what only PostgreSQL does)."""
    context = open_context(Settings(home=tmp_path / "home", database_url=postgres_url))
    yield context
    context.close()


def make_actor(context: ServerContext, name: str, *, admin: bool = False) -> Actor:
    with context.sessions() as session:
        return users.actor_of(users.create_user(session, name=name, is_admin=admin))


@pytest.fixture
def alice(context: ServerContext) -> Actor:
    return make_actor(context, "alice")


@pytest.fixture
def bob(context: ServerContext) -> Actor:
    return make_actor(context, "bob")


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> ModelFiles:
    return build(tmp_path_factory.mktemp("model-files"))
