"""A version's signature: what the artifact says, completed by what the uploader declared."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from champion.models.errors import NotAModel
from champion.runtimes import Feature, FeatureType, Signature

# Type names seen in WML input schemas (Spark-style and JSON-style), mapped to ours.
DECLARED_TYPES: dict[str, FeatureType] = {
    **dict.fromkeys(("double", "float", "decimal", "number", "real"), FeatureType.DOUBLE),
    **dict.fromkeys(("integer", "int", "long", "bigint", "short", "smallint"), FeatureType.INTEGER),
    **dict.fromkeys(("string", "str", "varchar", "char", "text", "category"), FeatureType.STRING),
    **dict.fromkeys(("boolean", "bool"), FeatureType.BOOLEAN),
}


@dataclass(frozen=True)
class DeclaredField:
    name: str
    type: str


def declared_type(name: str, *, field: str) -> FeatureType:
    try:
        return DECLARED_TYPES[name.lower()]
    except KeyError:
        raise NotAModel(f"unknown field type {name!r}", field=field) from None


def complete(signature: Signature, *, declared: list[DeclaredField] | None, label: str | None) -> Signature:
    """Give placeholder features the declared names, check declared names against real ones."""
    if label is not None:
        signature = dataclasses.replace(signature, target=dataclasses.replace(signature.target, name=label))
    if not declared:
        return signature
    if len(declared) != len(signature.features):
        raise NotAModel(
            f"declares {len(declared)} input fields but the model takes {len(signature.features)}",
            field="schemas.input",
        )
    if signature.named:
        declared_names = [f.name for f in declared]
        real_names = [f.name for f in signature.features]
        if declared_names != real_names:
            raise NotAModel(
                f"declares fields {declared_names} but the model was trained on {real_names}",
                field="schemas.input",
            )
        return signature
    features = tuple(
        Feature(name=f.name, type=declared_type(f.type, field=f"schemas.input.fields[{i}].type"))
        for i, f in enumerate(declared)
    )
    return dataclasses.replace(signature, features=features, named=True)
