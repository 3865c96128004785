"""Model types (`<family>_<version>`, as WML names them) and the frameworks each admits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from champion.errors import InvalidInput
from champion.runtimes import Framework

# A type family names the library a model was built with; the uploaded file may be that
# library's native format or a joblib pickle of its scikit-learn-style estimator.
FAMILIES: dict[str, frozenset[Framework]] = {
    "scikit-learn": frozenset({Framework.SKLEARN}),
    "xgboost": frozenset({Framework.XGBOOST, Framework.SKLEARN}),
    "lightgbm": frozenset({Framework.LIGHTGBM, Framework.SKLEARN}),
    "onnxruntime": frozenset({Framework.ONNX}),
    "onnx": frozenset({Framework.ONNX}),
}


@dataclass(frozen=True)
class ModelType:
    family: str
    version: str

    @property
    def frameworks(self) -> frozenset[Framework]:
        return FAMILIES[self.family]

    def __str__(self) -> str:
        return f"{self.family}_{self.version}" if self.version else self.family


def parse_model_type(value: str) -> ModelType:
    family, _, version = value.partition("_")
    if family not in FAMILIES:
        supported = ", ".join(f"{name}_<version>" for name in FAMILIES)
        raise InvalidInput(f"unsupported model type {value!r}; champion loads {supported}", field="type")
    return ModelType(family=family, version=version)


@dataclass(frozen=True)
class RevisionMetadata:
    """The model's editable metadata as one revision keeps it: a snapshot, taken when the revision is made
    (from the model), or carried by an archive (an import keeps each revision's own)."""

    name: str
    description: str
    tags: tuple[str, ...]
    software_spec_id: str
    custom: dict[str, Any] = field(default_factory=dict)
