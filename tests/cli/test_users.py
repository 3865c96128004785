"""The local administration commands, run against a real home folder."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from champion.cli import app
from champion.config import Settings
from champion.context import open_context
from champion.users import service as users

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAMPION_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def key_from(output: str) -> str:
    return output.split("API key (shown once): ")[1].split()[0]


def test_create_user_prints_a_working_key(home: Path) -> None:
    result = runner.invoke(app, ["users", "create", "dana"])
    assert result.exit_code == 0, result.output
    key = key_from(result.output)
    context = open_context(Settings(home=home))
    with context.sessions() as session:
        actor = users.authenticate_key(session, key)
        assert actor is not None and actor.name == "dana" and not actor.is_admin
    context.close()


def test_duplicate_user_is_a_clear_error(home: Path) -> None:
    assert runner.invoke(app, ["users", "create", "dana"]).exit_code == 0
    result = runner.invoke(app, ["users", "create", "dana"])
    assert result.exit_code == 1
    assert "exists already" in result.output


def test_keys_create_list_and_revoke(home: Path) -> None:
    runner.invoke(app, ["users", "create", "dana", "--no-key"])
    created = runner.invoke(app, ["keys", "create", "dana", "--name", "laptop"])
    assert created.exit_code == 0, created.output
    key = key_from(created.output)
    key_id = created.output.split("key id ")[1].split()[0]
    listed = runner.invoke(app, ["keys", "list", "dana"])
    assert "laptop" in listed.output and key not in listed.output
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    context = open_context(Settings(home=home))
    with context.sessions() as session:
        assert users.authenticate_key(session, key) is None
    context.close()


def test_users_list(home: Path) -> None:
    runner.invoke(app, ["users", "create", "dana", "--admin"])
    result = runner.invoke(app, ["users", "list"])
    assert "dana" in result.output and "yes" in result.output
