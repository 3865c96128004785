"""The software specifications champion offers: an honest list of what this server runs.

Every spec describes the one Python interpreter serving requests, with the versions of the
libraries really installed; they differ in which model families they are for. The first is WML's
general `runtime-24.1-py<python>`, for every family, so scripts that look it up by name keep
working. Then one per runtime family, named as WML names its framework specs
(`<family>_rt24.1-py<python>`, like WML's `pytorch-onnx_rt24.1-py3.11`), listing only the
packages that family loads with. A family spec is offered only when all its packages are
installed. Ids are uuid5 of the name, so they are the same on every server running the same Python.

A model's spec must fit its type's family (`fits`); the registry enforces it when a model is
created and when its `/software_spec` changes.
"""

from __future__ import annotations

import functools
import sys
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from champion.models.types import FAMILIES, parse_model_type
from champion.runtimes import Framework

_NAMESPACE = uuid.UUID("6f3c7d1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f")
_RELEASE = "24.1"  # the WML runtime release champion's names follow

# The distributions each runtime imports to load and run a model (champion/runtimes/<framework>.py).
RUNTIME_PACKAGES: dict[Framework, tuple[str, ...]] = {
    Framework.SKLEARN: ("scikit-learn", "joblib", "numpy", "pandas"),
    Framework.XGBOOST: ("xgboost", "numpy"),
    Framework.LIGHTGBM: ("lightgbm", "numpy"),
    Framework.ONNX: ("onnxruntime", "onnx", "numpy"),
}

# One spec per runtime family: its name's prefix and the type families it serves. ONNX has two
# type family names (`onnx_<v>` and WML's `onnxruntime_<v>`) for one runtime.
FAMILY_SPECS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scikit-learn", ("scikit-learn",)),
    ("xgboost", ("xgboost",)),
    ("lightgbm", ("lightgbm",)),
    ("onnxruntime", ("onnxruntime", "onnx")),
)

# The one family whose library is installed under another name.
_FAMILY_PACKAGE = {"onnx": "onnxruntime"}

# The order packages are listed in, after a family spec's own library.
_ORDER = ("scikit-learn", "xgboost", "lightgbm", "onnxruntime", "onnx", "numpy", "pandas", "joblib")


@dataclass(frozen=True)
class SoftwareSpec:
    id: str
    name: str
    description: str
    python: str
    packages: tuple[tuple[str, str], ...]
    model_types: tuple[str, ...]
    """The type families (`scikit-learn`, `onnx`, ...) whose models this spec runs."""

    @property
    def frameworks(self) -> frozenset[Framework]:
        """The runtimes this spec carries: those its families' files may load with."""
        return frozenset().union(*(FAMILIES[family] for family in self.model_types))

    def fits(self, model_type: str) -> bool:
        """Whether a model of `model_type` (`scikit-learn_1.3`, or a bare family) may run on this spec."""
        return model_type.partition("_")[0] in self.model_types


@functools.cache  # each spec asks after the same few packages; a lookup scans every installed distribution
def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _packages_of(families: tuple[str, ...], *, first: str | None = None) -> tuple[str, ...]:
    """The packages `families` load with, `first` (a family's own library) leading, the rest in `_ORDER`."""
    wanted = {pkg for family in families for framework in FAMILIES[family] for pkg in RUNTIME_PACKAGES[framework]}
    return tuple(sorted(wanted, key=lambda pkg: (pkg != first, _ORDER.index(pkg))))


def _spec(name: str, description: str, python: str, families: tuple[str, ...]) -> SoftwareSpec | None:
    """The spec, or None when one of the packages its families load with is not installed."""
    wanted = _packages_of(families, first=_FAMILY_PACKAGE.get(families[0], families[0]))
    packages = tuple((pkg, v) for pkg in wanted if (v := _installed(pkg)) is not None)
    if len(packages) < len(wanted):
        return None
    return SoftwareSpec(
        id=str(uuid.uuid5(_NAMESPACE, name)),
        name=name,
        description=description,
        python=python,
        packages=packages,
        model_types=families,
    )


def _general(python: str) -> SoftwareSpec:
    """WML's general runtime, for every family; it lists the packages that are installed, whichever they are."""
    name = f"runtime-{_RELEASE}-py{python}"
    families = tuple(sorted(FAMILIES))
    packages = tuple((pkg, v) for pkg in _packages_of(families) if (v := _installed(pkg)) is not None)
    return SoftwareSpec(
        id=str(uuid.uuid5(_NAMESPACE, name)),
        name=name,
        description=f"champion's Python {python} runtime with every model library it loads",
        python=python,
        packages=packages,
        model_types=families,
    )


def _build() -> tuple[SoftwareSpec, ...]:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    family_specs = (
        _spec(
            f"{prefix}_rt{_RELEASE}-py{python}",
            f"champion's Python {python} runtime for {' and '.join(families)} models, with the libraries it loads "
            "them with",
            python,
            families,
        )
        for prefix, families in FAMILY_SPECS
    )
    return (_general(python), *(spec for spec in family_specs if spec is not None))


CATALOGUE = _build()


def find(*, spec_id: str | None = None, name: str | None = None) -> SoftwareSpec | None:
    for spec in CATALOGUE:
        if spec.id == spec_id or spec.name == name:
            return spec
    return None


def fitting(model_type: str) -> tuple[SoftwareSpec, ...]:
    """The specs a model of `model_type` may take, the general one first."""
    return tuple(spec for spec in CATALOGUE if spec.fits(model_type))


def versioned_type(value: str, spec: SoftwareSpec = CATALOGUE[0]) -> str:
    """The WML model type for a family, `<family>_<major.minor>` as in `scikit-learn_1.3`.

    The version is the library's in `spec` (the software spec a new model is given), so the type
    names what will really load it; a value that names its version already is kept.
    """
    parsed = parse_model_type(value)
    if parsed.version:
        return str(parsed)
    installed = dict(spec.packages).get(_FAMILY_PACKAGE.get(parsed.family, parsed.family))
    return f"{parsed.family}_{'.'.join(installed.split('.')[:2])}" if installed else parsed.family
