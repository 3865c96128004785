"""The `supported` check reads the candidate revision's software specification."""

from __future__ import annotations

import dataclasses

from champion.models.software_specs import CATALOGUE, find
from champion.replacement.checks import CheckStatus
from champion.replacement.facts import ReplacementFacts
from champion.runtimes.base import Framework
from tests.replacement.test_checks import model, replacement, result

GENERAL = CATALOGUE[0]


def spec(prefix: str) -> str:
    (found,) = [s for s in CATALOGUE if s.name.startswith(f"{prefix}_rt")]
    return found.id


def moving(current_spec: str | None, candidate_spec: str | None, **candidate: object) -> ReplacementFacts:
    current = dataclasses.replace(model(1), software_spec_id=current_spec)
    return replacement(current=current, software_spec_id=candidate_spec, **candidate)


def test_a_move_to_another_spec_that_fits_passes_and_says_so() -> None:
    checked = result(moving(GENERAL.id, spec("scikit-learn")), "supported")
    assert checked.status is CheckStatus.PASSING
    assert checked.message.endswith(
        f"; the software specification changes from {GENERAL.name} to {find(spec_id=spec('scikit-learn')).name}."
    )
    same = result(moving(GENERAL.id, GENERAL.id), "supported")
    assert same.status is CheckStatus.PASSING and "software specification" not in same.message


def test_a_spec_without_the_candidates_runtime_fails_naming_those_that_have_it() -> None:
    checked = result(moving(GENERAL.id, spec("onnxruntime")), "supported")  # a scikit-learn candidate
    assert checked.status is CheckStatus.FAILING
    assert "runs onnxruntime and onnx models" in checked.message
    for fit in (GENERAL.name, "scikit-learn_rt", "xgboost_rt", "lightgbm_rt"):  # their pickles load with scikit-learn
        assert fit in checked.message
    xgboost = result(moving(GENERAL.id, spec("xgboost"), framework=Framework.XGBOOST), "supported")
    assert xgboost.status is CheckStatus.WARNING  # the framework changes; the spec carries it


def test_a_spec_this_server_does_not_offer_warns() -> None:
    checked = result(moving(GENERAL.id, "0b4bd4a0-6ab6-5d0b-9c9f-000000000000"), "supported")
    assert checked.status is CheckStatus.WARNING
    assert "is not one this server offers" in checked.message and GENERAL.name in checked.message


def test_without_a_recorded_spec_the_check_reads_the_framework_alone() -> None:
    assert result(moving(None, None), "supported").status is CheckStatus.PASSING
