"""Software specifications: one per runtime family with the libraries this server really has, the WML
model types named from them, and the registry's rule that a model's spec fits its type's family."""

import sys
import uuid
from importlib.metadata import version

import pytest

from champion.context import ServerContext
from champion.errors import InvalidInput
from champion.models import service as models
from champion.models import software_specs
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE, SoftwareSpec, versioned_type
from champion.models.types import FAMILIES
from champion.runtimes import Framework
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor


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


# --- the catalogue: a spec per runtime family ----------------------------------------------------

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
GENERAL = f"runtime-24.1-py{PYTHON}"
FAMILY_SPEC_NAMES = [f"{prefix}_rt24.1-py{PYTHON}" for prefix in ("scikit-learn", "xgboost", "lightgbm", "onnxruntime")]


def by_name(name: str) -> SoftwareSpec:
    spec = software_specs.find(name=name)
    assert spec is not None, name
    return spec


def test_the_general_spec_comes_first_with_the_id_scripts_rely_on() -> None:
    general = CATALOGUE[0]
    assert general.name == GENERAL
    # The id is uuid5 of the name in champion's namespace: the same on every server with this Python.
    assert general.id == str(uuid.uuid5(uuid.UUID("6f3c7d1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f"), GENERAL))
    assert set(general.model_types) == set(FAMILIES)
    assert [pkg for pkg, _ in general.packages][:5] == ["scikit-learn", "xgboost", "lightgbm", "onnxruntime", "onnx"]


def test_one_spec_per_runtime_family_after_the_general_one() -> None:
    assert [spec.name for spec in CATALOGUE] == [GENERAL, *FAMILY_SPEC_NAMES]
    assert len({spec.id for spec in CATALOGUE}) == len(CATALOGUE)
    for spec in CATALOGUE:
        assert spec.id == str(uuid.uuid5(uuid.UUID("6f3c7d1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f"), spec.name))
    # Every type family fits the general spec and exactly one family spec.
    for family in FAMILIES:
        fit = [spec.name for spec in software_specs.fitting(f"{family}_1.0")]
        assert fit[0] == GENERAL and len(fit) == 2, (family, fit)


def test_each_family_spec_lists_what_that_family_loads_with_at_the_installed_versions() -> None:
    expected = {
        "scikit-learn": ["scikit-learn", "numpy", "pandas", "joblib"],
        # An XGBoost or LightGBM model may come as a joblib pickle of its scikit-learn estimator.
        "xgboost": ["xgboost", "scikit-learn", "numpy", "pandas", "joblib"],
        "lightgbm": ["lightgbm", "scikit-learn", "numpy", "pandas", "joblib"],
        "onnxruntime": ["onnxruntime", "onnx", "numpy"],
    }
    for prefix, packages in expected.items():
        spec = by_name(f"{prefix}_rt24.1-py{PYTHON}")
        assert spec.packages == tuple((pkg, version(pkg)) for pkg in packages)
        assert spec.python == PYTHON
    assert by_name(f"onnxruntime_rt24.1-py{PYTHON}").model_types == ("onnxruntime", "onnx")
    assert by_name(f"xgboost_rt24.1-py{PYTHON}").frameworks == {Framework.XGBOOST, Framework.SKLEARN}


def test_fits_reads_the_family_of_a_model_type() -> None:
    sklearn, onnx = by_name(FAMILY_SPEC_NAMES[0]), by_name(FAMILY_SPEC_NAMES[3])
    assert sklearn.fits("scikit-learn_1.3") and sklearn.fits("scikit-learn")
    assert not sklearn.fits("xgboost_2.0") and not sklearn.fits("tensorflow_2.14")
    assert onnx.fits("onnx_1.16") and onnx.fits("onnxruntime_1.16") and not onnx.fits("scikit-learn_1.3")


def test_a_family_spec_is_offered_only_when_its_packages_are_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = software_specs._installed
    monkeypatch.setattr(software_specs, "_installed", lambda name: None if name == "lightgbm" else installed(name))
    built = software_specs._build()
    assert [spec.name for spec in built] == [GENERAL, *(n for n in FAMILY_SPEC_NAMES if not n.startswith("lightgbm"))]
    assert "lightgbm" not in dict(built[0].packages)  # the general spec lists what is really there
    assert built[0].id == CATALOGUE[0].id


def test_versioned_type_reads_a_family_spec_too() -> None:
    assert versioned_type("xgboost", by_name(FAMILY_SPEC_NAMES[1])) == f"xgboost_{major_minor('xgboost')}"


# --- the registry's rule: a model's spec fits its type's family ----------------------------------


@pytest.fixture
def space_id(context: ServerContext, alice: Actor) -> str:
    with context.sessions() as session:
        return spaces.create_space(session, alice, details=SpaceDetails(name="specs")).id


def register(context: ServerContext, actor: Actor, space_id: str, model_type: str, spec: SoftwareSpec) -> str:
    values = {"name": f"{model_type} model", "type": model_type, "software_spec_id": spec.id}
    with context.sessions() as session:
        return models.create_model(session, actor, space_id=space_id, new=NewModel.model_validate(values)).id


def test_a_new_model_takes_a_spec_that_fits_its_family(context: ServerContext, alice: Actor, space_id: str) -> None:
    sklearn, xgboost, _, onnx = (by_name(name) for name in FAMILY_SPEC_NAMES)
    with pytest.raises(InvalidInput) as refused:
        register(context, alice, space_id, "scikit-learn_1.3", xgboost)
    assert refused.value.field == "software_spec.id"
    assert refused.value.message == (
        f"software_spec.id: the software specification 'xgboost_rt24.1-py{PYTHON}' runs xgboost models, not "
        f"scikit-learn models; the specifications that fit scikit-learn models are {GENERAL}, "
        f"scikit-learn_rt24.1-py{PYTHON}"
    )
    with context.sessions() as session:
        assert models.list_models(session, alice, space_id=space_id) == []
    register(context, alice, space_id, "scikit-learn_1.3", sklearn)
    register(context, alice, space_id, "xgboost_2.0", xgboost)
    register(context, alice, space_id, "onnxruntime_1.16", onnx)
    register(context, alice, space_id, "lightgbm_4.2", CATALOGUE[0])  # the general spec fits every family


def test_a_spec_patch_must_fit_the_models_family(context: ServerContext, alice: Actor, space_id: str) -> None:
    sklearn, _, lightgbm, _ = (by_name(name) for name in FAMILY_SPEC_NAMES)
    model_id = register(context, alice, space_id, "scikit-learn_1.3", CATALOGUE[0])
    with context.sessions() as session:
        refused = [
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "replace", "path": "/software_spec/id", "value": lightgbm.id},
        ]
        with pytest.raises(InvalidInput) as raised:
            models.update_model(session, alice, model_id=model_id, operations=refused)
        assert raised.value.field == "/software_spec/id"
        assert "not scikit-learn models" in raised.value.message and sklearn.name in raised.value.message
    with context.sessions() as session:
        row = models.get_model(session, alice, model_id=model_id)
        assert (row.name, row.software_spec_id) == ("scikit-learn_1.3 model", CATALOGUE[0].id)  # nothing written
        moved = [{"op": "replace", "path": "/software_spec", "value": {"id": sklearn.id, "name": sklearn.name}}]
        assert models.update_model(session, alice, model_id=model_id, operations=moved).software_spec_id == sklearn.id

        # A spec names its Python: after an upgrade a stored model may name one this server does not offer.
        # Only a spec the patch names is checked, so such a model can still be renamed.
        models.get_model(session, alice, model_id=model_id).software_spec_id = "6b1d9c5e-0000-5000-8000-000000000000"
        session.commit()
        rename = [{"op": "replace", "path": "/name", "value": "renamed"}]
        assert models.update_model(session, alice, model_id=model_id, operations=rename).name == "renamed"
        with pytest.raises(InvalidInput, match="Unsupported software specification"):
            again = [{"op": "replace", "path": "/software_spec/id", "value": "6b1d9c5e-0000-5000-8000-000000000001"}]
            models.update_model(session, alice, model_id=model_id, operations=again)
