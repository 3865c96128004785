"""The software specifications champion offers: an honest list of what this server runs.

There is one: the Python interpreter serving requests, with the versions of the model
libraries really installed. It carries a WML-style name so existing scripts that look it
up by name keep working.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from champion.models.types import FAMILIES, parse_model_type

_NAMESPACE = uuid.UUID("6f3c7d1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f")
_PACKAGES = ("scikit-learn", "xgboost", "lightgbm", "onnxruntime", "numpy", "pandas", "joblib")


@dataclass(frozen=True)
class SoftwareSpec:
    id: str
    name: str
    description: str
    python: str
    packages: tuple[tuple[str, str], ...]
    model_types: tuple[str, ...]


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _build() -> tuple[SoftwareSpec, ...]:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    name = f"runtime-24.1-py{python}"
    packages = tuple((pkg, v) for pkg in _PACKAGES if (v := _installed(pkg)) is not None)
    return (
        SoftwareSpec(
            id=str(uuid.uuid5(_NAMESPACE, name)),
            name=name,
            description=f"champion's Python {python} runtime with the model libraries it loads",
            python=python,
            packages=packages,
            model_types=tuple(sorted(FAMILIES)),
        ),
    )


CATALOGUE = _build()


def find(*, spec_id: str | None = None, name: str | None = None) -> SoftwareSpec | None:
    for spec in CATALOGUE:
        if spec.id == spec_id or spec.name == name:
            return spec
    return None


# The one family whose library is installed under another name.
_FAMILY_PACKAGE = {"onnx": "onnxruntime"}


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
