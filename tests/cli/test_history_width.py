"""`champion deployments history` stays readable in narrow terminals; `rollback --to / --rev`; one-case reasons."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner, Result

from champion.cli import app
from tests.cli.test_deployments import READY, Live, live, upload
from tests.model_files import ModelFiles, build_variants

__all__ = ["live"]  # the server fixture, shared with the deployment commands' tests

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def run(live: Live, *args: str, columns: int = 250, given: str | None = None) -> Result:
    runner = CliRunner(env={"COLUMNS": str(columns)})
    return runner.invoke(app, [*args, "--server", live.url, "--api-key", live.key], input=given)


@pytest.fixture(scope="module")
def setup(live: Live, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """champion:1 → retrained:1 (replace), then rollback --to that replacement, then rollback --rev to retrained."""
    variants = build_variants(tmp_path_factory.mktemp("variants"))
    champion, retrained = upload(live, model_files.classifier_named), upload(live, variants["retrained"])
    created = run(live, "deployments", "create", "--space", live.space, "--model", champion, "--name", "narrow")
    found = READY.search(created.output)
    assert found, created.output
    deployment = found["id"]
    replaced = run(live, "deployments", "replace", deployment, "--space", live.space, "--model", retrained)
    assert replaced.exit_code == 0, replaced.output
    return {"deployment": deployment, "champion": champion, "retrained": retrained}


def record_ids(live: Live, deployment: str) -> list[str]:
    """The record ids of the wide table, newest first (each row's first id)."""
    shown = run(live, "deployments", "history", deployment, "--space", live.space)
    assert shown.exit_code == 0, shown.output
    return [UUID.findall(line)[0] for line in shown.output.splitlines() if " → " in line and UUID.search(line)]


@pytest.fixture(scope="module")
def rolled(live: Live, setup: dict[str, str]) -> dict[str, Result]:
    deployment, space, retrained = setup["deployment"], live.space, setup["retrained"]
    (replacement_id,) = record_ids(live, deployment)
    base = ("deployments", "rollback", deployment, "--space", space)
    return {
        # "Back to the model before this replacement", with a reason in any case.
        "to": run(live, *base, "--to", replacement_id, "--reason", "accuracy", "--yes"),
        # A revision of another model that served before: asked first, then done.
        "asked": run(live, *base, "--rev", "1", "--model", retrained, given="n\n"),
        "rev": run(live, *base, "--rev", "1", "--model", retrained, "--yes"),
        "never": run(live, *base, "--rev", "7", "--yes"),
        "both": run(live, *base, "--rev", "1", "--to", "x", "--yes"),
    }


def test_rollback_to_a_record_and_to_a_revision(setup: dict[str, str], rolled: dict[str, Result]) -> None:
    assert rolled["to"].exit_code == 0, rolled["to"].output
    assert f"now serving {setup['champion']} rev 1" in rolled["to"].output
    assert rolled["asked"].exit_code == 1 and f"back to {setup['retrained']} rev 1?" in rolled["asked"].output
    assert rolled["rev"].exit_code == 0, rolled["rev"].output
    assert f"now serving {setup['retrained']} rev 1" in rolled["rev"].output
    # A revision that never served is the server's refusal, saying why.
    assert rolled["never"].exit_code == 1 and "never served this deployment" in rolled["never"].output
    assert rolled["both"].exit_code == 1 and "at most one of --to or --rev" in rolled["both"].output


@pytest.mark.parametrize("columns", [80, 120])
def test_history_is_readable_and_keeps_ids_whole(
    live: Live, setup: dict[str, str], rolled: dict[str, Result], columns: int
) -> None:
    shown = run(live, "deployments", "history", setup["deployment"], "--space", live.space, columns=columns)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert all(len(line) <= columns for line in lines), shown.output
    assert "…" not in shown.output
    ids = set(UUID.findall(shown.output))
    assert {setup["deployment"], setup["champion"], setup["retrained"]} <= ids
    whole = run(live, "deployments", "history", setup["deployment"], "--space", live.space)
    assert set(UUID.findall(whole.output)) == ids  # every id the wide table shows, whole
    for word in ("replace", "rollback", "succeeded", "ACCURACY", "OTHER"):
        assert word in shown.output, (word, shown.output)
    assert [UUID.findall(line)[0] for line in lines if line.startswith("record")] == record_ids(
        live, setup["deployment"]
    )


def test_reason_choices_and_default_share_one_case(live: Live) -> None:
    shown = run(live, "deployments", "rollback", "--help", columns=200)
    assert "ACCURACY|DATA_DRIFT" in shown.output and "[default: OTHER]" in shown.output
    assert "accuracy" not in shown.output
    refused = run(live, "deployments", "rollback", "d", "--space", "s", "--reason", "nope", "--yes", columns=200)
    assert refused.exit_code == 2 and "not one of ACCURACY, DATA_DRIFT" in refused.output
