from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from champion import patch
from champion.errors import InvalidInput, PreconditionFailed


class Details(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)


ALLOWED = ("/name", "/tags", "/custom")
CURRENT = Details(name="a", tags=["x"], custom={"k": 1})


def test_add_and_replace_are_alike() -> None:
    replaced = patch.apply_to(CURRENT, [{"op": "replace", "path": "/name", "value": "b"}], allowed=ALLOWED)
    added = patch.apply_to(CURRENT, [{"op": "add", "path": "/name", "value": "b"}], allowed=ALLOWED)
    assert replaced == added == Details(name="b", tags=["x"], custom={"k": 1})


def test_replace_of_a_missing_member_adds_it() -> None:
    result = patch.apply_to(CURRENT, [{"op": "replace", "path": "/custom/new", "value": 2}], allowed=ALLOWED)
    assert result.custom == {"k": 1, "new": 2}


def test_remove_inside_custom() -> None:
    result = patch.apply_to(CURRENT, [{"op": "remove", "path": "/custom/k"}], allowed=ALLOWED)
    assert result.custom == {}


def test_test_op_is_a_precondition() -> None:
    ok = [{"op": "test", "path": "/name", "value": "a"}, {"op": "replace", "path": "/name", "value": "b"}]
    assert patch.apply_to(CURRENT, ok, allowed=ALLOWED).name == "b"
    stale = [{"op": "test", "path": "/name", "value": "zzz"}, {"op": "replace", "path": "/name", "value": "b"}]
    with pytest.raises(PreconditionFailed, match="test"):
        patch.apply_to(CURRENT, stale, allowed=ALLOWED)


@pytest.mark.parametrize("op", ["move", "copy", "frobnicate", None])
def test_unsupported_ops_are_refused(op: str | None) -> None:
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, [{"op": op, "from": "/name", "path": "/tags"}], allowed=ALLOWED)
    assert error.value.field == "[0].op"


def test_paths_outside_the_allowlist_are_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, [{"op": "replace", "path": "/owner", "value": "x"}], allowed=ALLOWED)
    assert error.value.field == "[0].path"
    assert "'/owner'" in error.value.message


def test_a_bad_operation_changes_nothing() -> None:
    body = [{"op": "replace", "path": "/name", "value": "b"}, {"op": "remove", "path": "/custom/missing"}]
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, body, allowed=ALLOWED)
    assert error.value.field == "[1].path"
    assert CURRENT.name == "a"


def test_the_result_is_validated_with_the_field_named() -> None:
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, [{"op": "replace", "path": "/name", "value": ""}], allowed=ALLOWED)
    assert error.value.field == "/name"
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, [{"op": "replace", "path": "/tags", "value": "notalist"}], allowed=ALLOWED)
    assert error.value.field == "/tags"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"op": "add"}, "body"),
        (["not an object"], "[0]"),
        ([{"op": "add", "path": "name", "value": 1}], "[0].path"),
        ([{"op": "add", "path": "/name"}], "[0].value"),
        ([{"op": "add", "path": "/name", "value": "b", "extra": 1}], "[0]"),
    ],
)
def test_malformed_patches_name_the_problem(body: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, body, allowed=ALLOWED)
    assert error.value.field == field


def test_an_empty_patch_changes_nothing() -> None:
    assert patch.apply_to(CURRENT, [], allowed=ALLOWED) == CURRENT


LIMIT = patch.JSON_INTEGER_LIMIT


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        (LIMIT + 1, "/custom/a", "2^53"),
        (-LIMIT - 1, "/custom/a", "2^53"),
        (10**30, "/custom/a", "2^53"),
        (float("nan"), "/custom/a", "finite"),
        (float("-inf"), "/custom/a", "finite"),
        ({"b": [0, {"c": float("inf")}]}, "/custom/a/b/1/c", "finite"),
        ("a\x00b", "/custom/a", "NUL"),
        ("\ud800", "/custom/a", "surrogate"),
        ({"\udfff": 1}, "/custom/a/\\udfff", "the key contains a lone surrogate"),
    ],
)
def test_values_json_cannot_give_back_are_refused_naming_their_path(value: Any, field: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, [{"op": "add", "path": "/custom/a", "value": value}], allowed=ALLOWED)
    assert error.value.field == field
    assert problem in error.value.message


def test_values_json_carries_exactly_are_kept() -> None:
    value = {"big": LIMIT, "small": -LIMIT, "x": 1e308, "t": True, "n": None, "s": "ünïcødé 🙂", "l": [0.5, []]}
    result = patch.apply_to(CURRENT, [{"op": "add", "path": "/custom/a", "value": value}], allowed=ALLOWED)
    assert result.custom["a"] == value


def test_text_anywhere_in_a_document_is_checked() -> None:
    with pytest.raises(InvalidInput) as error:
        patch.validated(Details, {"name": "a", "tags": ["ok", "\ud83d"]})
    assert error.value.field == "tags.1"
    with pytest.raises(InvalidInput) as error:
        patch.validated(Details, {"name": "a\x00"})
    assert error.value.field == "name"


def test_nesting_past_the_limit_is_refused() -> None:
    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value]
        return value

    # The document is level 0, `custom` level 1, so the value has the rest but one (its innermost 1).
    inside = nested(patch.JSON_DEPTH_LIMIT - 2)
    assert patch.apply_to(CURRENT, [{"op": "add", "path": "/custom/a", "value": inside}], allowed=ALLOWED)
    with pytest.raises(InvalidInput) as error:
        patch.apply_to(CURRENT, [{"op": "add", "path": "/custom/a", "value": nested(100_000)}], allowed=ALLOWED)
    assert "deeper than" in error.value.message
    assert error.value.field == "/custom/a" + "/0" * patch.JSON_DEPTH_LIMIT


class Imported(BaseModel):
    custom: patch.JsonObject = Field(default_factory=dict)


def test_a_free_form_member_refuses_unportable_values_however_the_document_is_built() -> None:
    """An import builds documents with model_validate, not `validated`: the member type still refuses."""
    with pytest.raises(ValidationError) as error:
        Imported.model_validate({"custom": {"a": {"b": 2**60}}})
    (problem,) = error.value.errors()
    assert problem["loc"] == ("custom",)
    assert problem["msg"].startswith("a/b: an integer beyond")
    assert Imported.model_validate({"custom": {"a": 2**53 - 1}}).custom == {"a": 2**53 - 1}
