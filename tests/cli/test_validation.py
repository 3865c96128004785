"""`champion deployments validate | settings` against a real server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from champion.cli.validation import parsed
from tests.cli.test_deployments import READY, Live, live, upload
from tests.model_files import ModelFiles, build_variants

__all__ = ["live"]  # the server fixture, shared with the deployment commands' tests

CHECK_NAMES = ("permission", "notCurrentModel", "targetType", "features", "featureDataTypes", "predictionReady")


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_variants(tmp_path_factory.mktemp("variants"))


@pytest.fixture(scope="module")
def deployment(live: Live, model_files: ModelFiles) -> str:
    champion = upload(live, model_files.classifier_named)
    result = live.run("deployments", "create", "--space", live.space, "--model", champion, "--name", "checked")
    assert result.exit_code == 0, result.output
    found = READY.search(result.output)
    assert found, result.output
    return found["id"]


def api(live: Live, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {live.key}"}
    return httpx.request(method, f"{live.url}{path}", headers=headers, params={"space_id": live.space}, **kwargs)


def served(live: Live, deployment: str) -> Any:
    return api(live, "GET", f"/ml/v4/deployments/{deployment}").json()["entity"]["asset"]


def test_a_compatible_candidate_passes(live: Live, deployment: str, variants: dict[str, Path]) -> None:
    before = served(live, deployment)
    retrained = upload(live, variants["retrained"])
    result = live.run("deployments", "validate", deployment, "--space", live.space, "--model", retrained, "--rev", "1")
    assert result.exit_code == 0, result.output
    assert all(name in result.output for name in CHECK_NAMES), result.output
    assert "overall: passing — All checks passed." in result.output
    assert "warning" not in result.output and "failing" not in result.output
    # Validating changes nothing: same champion, no replacement recorded.
    assert served(live, deployment) == before
    assert api(live, "GET", f"/ml/v4/deployments/{deployment}/replacements").json()["resources"] == []


def test_warnings_only_exit_0_with_a_note(live: Live, deployment: str, variants: dict[str, Path]) -> None:
    fewer = upload(live, variants["fewer_features"])
    result = live.run("deployments", "validate", deployment, "--space", live.space, "--model", fewer)
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if line.lstrip("│ ").startswith("features ")]
    assert "warning" in line
    assert "overall: warning — Warnings: features." in result.output
    assert "note: warnings only" in result.output
    assert "The input schema of the asset being patched does not match" in result.output


def test_a_failing_check_exits_1(live: Live, deployment: str, variants: dict[str, Path]) -> None:
    regressor = upload(live, variants["regressor"])
    result = live.run("deployments", "validate", deployment, "--space", live.space, "--model", regressor)
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if line.lstrip("│ ").startswith("targetType ")]
    assert "failing" in line
    assert "overall: failing — Failed: " in result.output and "targetType" in result.output


def test_an_unknown_deployment_or_model_ends_with_the_servers_message(live: Live, deployment: str) -> None:
    result = live.run("deployments", "validate", "nope", "--space", live.space, "--model", "m")
    assert result.exit_code == 1 and "404" in result.output and "nope" in result.output, result.output
    result = live.run("deployments", "validate", deployment, "--space", live.space, "--model", "nothing-here")
    assert result.exit_code == 1 and "400" in result.output and "nothing-here" in result.output, result.output
    result = live.run("deployments", "settings", "nope", "--space", live.space)
    assert result.exit_code == 1 and "404" in result.output, result.output


def test_settings_show_every_setting(live: Live, deployment: str) -> None:
    result = live.run("deployments", "settings", deployment, "--space", live.space)
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line.split()[3] for line in result.output.splitlines() if line.count("│") == 3}
    assert rows["segment_analysis.enabled"] == "false" and rows["segment_analysis.attributes"] == "[]"
    assert rows["humility.rules"] == "[]" and "drift_tracking.feature_drift_enabled" in rows
    as_json = live.run("deployments", "settings", deployment, "--space", live.space, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == api(live, "GET", f"/ml/v4/deployments/{deployment}/settings").json()


def test_set_changes_the_settings_on_the_server(live: Live, deployment: str) -> None:
    args = ("--set", "segment_analysis.enabled=true", "--set", "segment_analysis.attributes=x1,x2")
    result = live.run("deployments", "settings", deployment, "--space", live.space, *args, "--json")
    assert result.exit_code == 0, result.output
    stored = api(live, "GET", f"/ml/v4/deployments/{deployment}/settings").json()
    assert stored["segment_analysis"] == {"enabled": True, "attributes": ["x1", "x2"]}
    assert json.loads(result.stdout) == stored
    result = live.run("deployments", "settings", deployment, "--space", live.space, "--set", "challengers.enabled=true")
    assert result.exit_code == 0, result.output
    stored = api(live, "GET", f"/ml/v4/deployments/{deployment}/settings").json()
    assert stored["challengers"] == {"enabled": True} and stored["segment_analysis"]["attributes"] == ["x1", "x2"]


def test_a_setting_the_server_refuses_is_named_and_kept_out(live: Live, deployment: str) -> None:
    before = api(live, "GET", f"/ml/v4/deployments/{deployment}/settings").json()
    for assignment, named in (
        ("segment_analysis.attributes=x1,x9", "x9"),
        ("prediction_intervals.enabled=true", "regression"),
        ("frobnicate.enabled=true", "frobnicate"),
    ):
        result = live.run("deployments", "settings", deployment, "--space", live.space, "--set", assignment)
        assert result.exit_code == 1, result.output
        assert "400" in result.output and named in result.output, result.output
    result = live.run("deployments", "settings", deployment, "--space", live.space, "--set", "no-equals-sign")
    assert result.exit_code == 1 and "PATH=VALUE" in result.output, result.output
    assert api(live, "GET", f"/ml/v4/deployments/{deployment}/settings").json() == before


@pytest.mark.parametrize(
    ("assignments", "expected"),
    [
        (["segment_analysis.enabled=true"], {"segment_analysis": {"enabled": True}}),
        (["segment_analysis.attributes=x1,x2"], {"segment_analysis": {"attributes": ["x1", "x2"]}}),
        (["segment_analysis.attributes=x1"], {"segment_analysis": {"attributes": ["x1"]}}),
        (["segment_analysis.attributes="], {"segment_analysis": {"attributes": []}}),
        (['segment_analysis.attributes=["a,b"]'], {"segment_analysis": {"attributes": ["a,b"]}}),
        (["prediction_intervals.percentiles=10, 90"], {"prediction_intervals": {"percentiles": [10, 90]}}),
        (["prediction_intervals.percentiles=50"], {"prediction_intervals": {"percentiles": [50]}}),
        (["humility.enabled=false", "humility.rules=[]"], {"humility": {"enabled": False, "rules": []}}),
        (["unknown.name=text"], {"unknown": {"name": "text"}}),
    ],
)
def test_set_values_are_json_and_list_settings_split_at_commas(
    assignments: list[str], expected: dict[str, Any]
) -> None:
    current = {
        "segment_analysis": {"enabled": False, "attributes": []},
        "prediction_intervals": {"enabled": False, "percentiles": []},
        "humility": {"enabled": False, "rules": []},
    }
    assert parsed(assignments, current) == expected
