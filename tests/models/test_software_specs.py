"""WML model types named from the libraries this server really has."""

from importlib.metadata import version

import pytest

from champion.errors import InvalidInput
from champion.models.software_specs import versioned_type


def major_minor(package: str) -> str:
    return ".".join(version(package).split(".")[:2])


def test_a_family_gets_the_installed_librarys_version() -> None:
    assert versioned_type("scikit-learn") == f"scikit-learn_{major_minor('scikit-learn')}"
    assert versioned_type("xgboost") == f"xgboost_{major_minor('xgboost')}"


def test_onnx_takes_the_version_of_onnxruntime() -> None:
    assert versioned_type("onnx") == f"onnx_{major_minor('onnxruntime')}"


def test_a_type_that_names_its_version_is_kept() -> None:
    assert versioned_type("scikit-learn_1.3") == "scikit-learn_1.3"


def test_an_unknown_family_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="unsupported model type") as raised:
        versioned_type("tensorflow")
    assert raised.value.field == "type"
