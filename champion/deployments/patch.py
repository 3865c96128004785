"""Which deployment details a JSON Patch may change, and who may change them.

The patchable document mirrors the WML view of a deployment: `/name`, `/description`,
`/tags` and `/custom` at the top, the owner at `/metadata/owner`, plus `/hardware_spec`,
`/hardware_request`, `/online` (its `parameters`), `/batch` (its `parameters`) and `/asset`.
The rules here are the seed's: the owner changes only by `replace`, only by a space admin, and
only to an admin or editor of the space; `/asset` starts a model replacement and must be alone in
its patch. A deployment's kind never changes: `/online` belongs to online deployments and `/batch`
to batch ones (`check_kind`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from champion.deployments.settings import BatchParameters, HardwareRequest
from champion.deployments.types import Kind
from champion.errors import InvalidInput, PermissionDenied
from champion.models.revisions import RevisionText
from champion.spaces.types import Role

DETAIL_PATHS = ("/name", "/description", "/tags", "/custom", "/hardware_spec", "/hardware_request", "/online", "/batch")
OWNER_PATH = "/metadata/owner"
ASSET_PATH = "/asset"
PATCHABLE = (*DETAIL_PATHS, OWNER_PATH, ASSET_PATH)


class OnlineParameters(BaseModel):
    # Forbid, not allow: a member champion does not keep would be answered 200 and silently dropped.
    model_config = ConfigDict(extra="forbid")

    serving_name: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,36}$")


class Online(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: OnlineParameters = Field(default_factory=OnlineParameters)


class Owner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1)


class Asset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    rev: RevisionText | None = None
    """Within the range of revision numbers, so `int(rev)` is safe to look up."""
    href: str | None = None


class DeploymentDocument(BaseModel):
    """The editable view of a deployment that patches apply to."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)
    # Plain dicts, not `JsonObject`: this document is also built from what is stored, and a value
    # stored before champion refused it must not break reading it. `patch.validated` checks the
    # patched document whole, naming any such value, so a patch can still remove it.
    custom: dict[str, Any] = Field(default_factory=dict)
    hardware_spec: dict[str, Any] = Field(default_factory=dict)
    hardware_request: HardwareRequest | None = None
    online: Online | None = None
    batch: BatchParameters | None = None
    metadata: Owner
    asset: Asset


def touches(operations: list[dict[str, Any]], prefix: str) -> bool:
    return any(op["path"] == prefix or op["path"].startswith(prefix + "/") for op in operations)


def check_rules(operations: list[dict[str, Any]], *, role: Role) -> None:
    """The seed's rules on who may change what; raised before anything is applied."""
    if not role.allows(Role.EDITOR):
        raise PermissionDenied(f"a {role.value} cannot change a deployment; this needs the editor role")
    if touches(operations, ASSET_PATH) and any(not op["path"].startswith(ASSET_PATH) for op in operations):
        raise InvalidInput("/asset must be the only path in its patch: replace the model on its own", field="[0].path")
    for index, operation in enumerate(operations):
        if not (operation["path"] == OWNER_PATH or operation["path"].startswith(OWNER_PATH + "/")):
            continue
        if operation["op"] not in ("replace", "test"):
            raise InvalidInput("the owner can only be changed with a 'replace' operation", field=f"[{index}].op")
        if operation["op"] == "replace" and role is not Role.ADMIN:
            raise PermissionDenied("only an admin of the space can change a deployment's owner")


def check_kind(changed: DeploymentDocument, *, kind: Kind) -> None:
    """A deployment's kind never changes: an online one keeps `/online` and takes no `/batch`, and the reverse."""
    if kind == Kind.ONLINE and changed.batch is not None:
        raise InvalidInput("an online deployment has no /batch: its kind cannot change", field="/batch")
    if kind == Kind.BATCH and changed.online is not None:
        raise InvalidInput("a batch deployment has no /online: its kind cannot change", field="/online")
    if kind == Kind.ONLINE and changed.online is None:
        raise InvalidInput("an online deployment keeps /online: its kind cannot change", field="/online")
    if kind == Kind.BATCH and changed.batch is None:
        raise InvalidInput("a batch deployment keeps /batch: its kind cannot change", field="/batch")
