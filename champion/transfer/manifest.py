"""The manifest of a space archive: what a space holds, in a form another champion can rebuild it from."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from champion.deployments.types import Kind
from champion.runtimes import FeatureType
from champion.transfer.errors import BadArchive

FORMAT_VERSION = 1

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Entry(BaseModel):
    # Unknown keys are ignored: a newer champion may add optional fields without a new format version.
    model_config = ConfigDict(extra="ignore", frozen=True)


def is_plain_file_name(value: str) -> bool:
    """Whether `value` names a file without naming a folder: it becomes a file in a staging folder on import."""
    return value not in ("", ".", "..") and PurePosixPath(value).name == value and "\\" not in value


def _plain_file_name(value: str) -> str:
    if not is_plain_file_name(value):
        raise ValueError("must be a plain file name")
    return value


FileName = Annotated[str, Field(max_length=255), AfterValidator(_plain_file_name)]


class DeclaredInputField(_Entry):
    name: str
    type: str


class FeatureEntry(_Entry):
    name: str = Field(min_length=1)
    type: FeatureType


class TargetEntry(_Entry):
    """What the revision predicts, for readers: an import takes the target's type and classes from the file."""

    name: str | None = None
    type: str | None = None
    classes: list[Any] = Field(default_factory=list)


class SignatureEntry(_Entry):
    """A revision's signature as stored (`runtimes.Signature.to_dict()`): the inputs it takes, by name and type.

    An import loads the file and applies these inputs to what it reports with the rules of a logged
    MLflow signature (`models.mlflow.merge`); `named` False means the names are the file's placeholders.
    """

    features: list[FeatureEntry]
    target: TargetEntry | None = None
    named: bool = True
    allows_missing: bool = False

    @model_validator(mode="after")
    def _distinct(self) -> SignatureEntry:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("names an input feature twice")
        return self


class RevisionMetadataEntry(_Entry):
    """A revision's snapshot of its model's editable metadata (WML: each revision has its own)."""

    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    software_spec_id: str
    software_spec_name: str | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class VersionEntry(_Entry):
    """One model revision: its number in the source space and the blob holding its file."""

    number: int = Field(ge=1)
    sha256: Sha256
    file_name: FileName
    framework: str
    size: int = Field(ge=0)
    runtime_parameters: list[dict[str, Any]] | None = None
    """The runtime parameter definitions the revision declares, as stored (DataRobot's spelling: `fieldName`,
    `type`, `defaultValue`, ...); `[]` for none. Absent (None) in archives written before they were carried,
    which import as declaring none."""
    signature: SignatureEntry | None = None
    """The revision's signature (the names and types it was logged with, for an MLflow folder). Absent (None)
    in archives written before it was carried, which import with what the file alone reports."""
    metadata: RevisionMetadataEntry | None = None
    """The revision's own name, description, tags, software spec and custom. Absent (None) in archives written
    before it was carried, whose revisions import with the model's metadata."""


class ModelEntry(_Entry):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    type: str
    software_spec_id: str
    software_spec_name: str | None = None
    label_column: str | None = None
    declared_input: list[DeclaredInputField] | None = None
    custom: dict[str, Any] = Field(default_factory=dict)
    versions: list[VersionEntry] = Field(default_factory=list)
    """In revision order."""


class ServedModel(_Entry):
    """The model revision a deployment serves: `models[index]`, named for readers, at revision `rev`."""

    index: int = Field(ge=0)
    name: str
    rev: int = Field(ge=1)


class DeploymentEntry(_Entry):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)
    kind: Kind
    serving_name: str | None = None
    hardware_spec: dict[str, Any] = Field(default_factory=dict)
    model: ServedModel
    settings: dict[str, Any] | None = None
    """`deployments.settings.DeploymentSettings` as JSON (a partial document merges into the defaults);
    None (archives written before settings were carried) means every default."""
    runtime_parameter_values: dict[str, Any] | None = None
    """The values the deployment runs its model's runtime parameters with, by name; None means the defaults."""


class DataAssetEntry(_Entry):
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    mime_type: str = "application/octet-stream"
    file_name: FileName
    sha256: Sha256
    size: int = Field(ge=0)


class SourceSpace(_Entry):
    id: str
    name: str


class Manifest(_Entry):
    format_version: Literal[1]
    champion_version: str
    exported_at: dt.datetime
    space: SourceSpace
    models: list[ModelEntry] = Field(default_factory=list)
    deployments: list[DeploymentEntry] = Field(default_factory=list)
    data_assets: list[DataAssetEntry] = Field(default_factory=list)

    def blob_users(self) -> dict[str, str]:
        """Each blob's digest, mapped to the first item that names it (for error messages)."""
        users: dict[str, str] = {}
        for i, model in enumerate(self.models):
            for j, version in enumerate(model.versions):
                users.setdefault(version.sha256, f"manifest.models[{i}].versions[{j}]")
        for i, asset in enumerate(self.data_assets):
            users.setdefault(asset.sha256, f"manifest.data_assets[{i}]")
        return users


def parse(data: Any) -> Manifest:
    """The manifest in `data` (parsed JSON), or BadArchive naming the first field that is wrong.

    The format version is checked first, so an archive from a newer champion says so rather
    than failing on whichever field changed.
    """
    if not isinstance(data, dict):
        raise BadArchive("must be a JSON object", field="manifest")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise BadArchive(
            f"unknown archive format version {version!r}; this champion reads version {FORMAT_VERSION}",
            field="manifest.format_version",
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise BadArchive(error["msg"], field=location(error["loc"])) from None


def location(parts: tuple[int | str, ...]) -> str:
    """`("models", 1, "versions", 0)` as `manifest.models[1].versions[0]`."""
    path = "manifest"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
