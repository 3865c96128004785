"""Domain objects in the shapes the WML client reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from champion.deployments.service import OWNER_LEFT, Described
from champion.deployments.settings import HARDWARE_NOT_APPLIED, DeploymentSettings
from champion.deployments.tables import Deployment
from champion.jobs.tables import BatchJob, DataAsset
from champion.jobs.types import JobResult, ResultBlock
from champion.models.software_specs import SoftwareSpec
from champion.models.tables import ModelVersion, RegisteredModel
from champion.replacement.checks import ValidationReport
from champion.replacement.report import SCHEMA_MISMATCH_WARNING as SCHEMA_MISMATCH
from champion.replacement.service import HistoryEntry
from champion.runtimes import Signature, TargetType
from champion.spaces.tables import Space, SpaceMember


def timestamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def space(row: Space, members: list[SpaceMember] | None = None) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "status": {"state": "active"},
        "type": "wx",
        "stage": {"production": False},
    }
    if members is not None:
        entity["members"] = [member(m) for m in members]
    return {
        "metadata": {
            "id": row.id,
            "url": f"/v2/spaces/{row.id}",
            "creator_id": row.creator_id,
            "created_at": timestamp(row.created_at),
            "updated_at": timestamp(row.modified_at),
        },
        "entity": entity,
    }


def member(row: SpaceMember) -> dict[str, Any]:
    return {"id": row.user_id, "type": "user", "role": row.role, "state": row.state}


def software_spec(spec: SoftwareSpec) -> dict[str, Any]:
    return {
        "metadata": {
            "name": spec.name,
            "asset_id": spec.id,
            "description": spec.description,
            "href": f"/v2/software_specifications/{spec.id}",
            "asset_type": "software_specification",
            "created_at": "2026-01-01T00:00:00.000Z",
            "life_cycle": {"supported": {}},
        },
        "entity": {
            "software_specification": {
                "type": "base",
                "display_name": spec.name,
                "software_configuration": {
                    "platform": {"name": "python", "version": spec.python},
                    "included_packages": [{"name": n, "version": v} for n, v in spec.packages],
                },
                "model_types": list(spec.model_types),
            }
        },
    }


def input_schema(signature: Signature) -> list[dict[str, Any]]:
    return [
        {"id": "1", "type": "struct", "fields": [{"name": f.name, "type": f.type.value} for f in signature.features]}
    ]


def output_schema(signature: Signature) -> list[dict[str, Any]]:
    target = signature.target
    prediction_meta: dict[str, Any] = {"modeling_role": "prediction", "target_type": target.type.value}
    if target.name:
        prediction_meta["target"] = target.name
    fields: list[dict[str, Any]] = []
    if target.type is TargetType.REGRESSION:
        fields.append({"name": "prediction", "type": "double", "metadata": prediction_meta})
    else:
        prediction_meta["class_labels"] = list(target.classes)
        fields.append({"name": "prediction", "type": _label_type(target.classes), "metadata": prediction_meta})
        fields.append({"name": "probability", "type": "array", "metadata": {"modeling_role": "probability"}})
    return [{"id": "1", "type": "struct", "fields": fields}]


def _label_type(classes: tuple[object, ...]) -> str:
    if all(isinstance(c, bool) for c in classes):
        return "boolean"
    if all(isinstance(c, int) for c in classes):
        return "integer"
    if all(isinstance(c, float | int) for c in classes):
        return "double"
    return "string"


def model(row: RegisteredModel, version: ModelVersion | None, spec: SoftwareSpec | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "tags": row.tags,
        "space_id": row.space_id,
        "owner": row.owner_id,
        "created_at": timestamp(row.created_at),
        "modified_at": timestamp(row.modified_at),
    }
    entity: dict[str, Any] = {
        "type": row.type,
        "software_spec": {"id": row.software_spec_id, **({"name": spec.name} if spec else {})},
        "custom": row.custom,
    }
    if row.label_column:
        entity["label_column"] = row.label_column
    if version is None:
        if row.declared_input:
            entity["schemas"] = {"input": [{"id": "1", "type": "struct", "fields": row.declared_input}], "output": []}
    else:
        signature = Signature.from_dict(version.signature)
        metadata["rev"] = str(version.number)
        entity["content_import_state"] = "completed"
        entity["schemas"] = {"input": input_schema(signature), "output": output_schema(signature)}
        entity["content"] = {
            "framework": version.framework,
            "sha256": version.sha256,
            "size": version.size,
            "file_name": version.filename,
            "uploaded_at": timestamp(version.created_at),
        }
    return {"metadata": metadata, "entity": entity}


def revision(row: RegisteredModel, version: ModelVersion, spec: SoftwareSpec | None) -> dict[str, Any]:
    """One revision as it was made: its own snapshot of the metadata (name, description, tags, software
    spec — `spec` is the revision's — and custom) and its content. The type and label column are the
    model's, fixed when it was created. A revision never changes, so it was modified when it was made."""
    body = model(row, version, spec)
    made = timestamp(version.created_at)
    body["metadata"].update(
        name=version.name,
        description=version.description,
        tags=version.tags,
        created_at=made,
        modified_at=made,
        commit_info={"committed_at": made, **({"commit_message": m} if (m := version.commit_message) else {})},
    )
    body["entity"]["software_spec"] = {"id": version.software_spec_id, **({"name": spec.name} if spec else {})}
    body["entity"]["custom"] = version.custom
    return body


def asset(row: RegisteredModel, version: ModelVersion | None) -> dict[str, Any]:
    """The CAMS view of a model (`/v2/assets/{id}`), which create_job and delete read."""
    return {
        "metadata": {
            "asset_id": row.id,
            "asset_type": "wml_model",
            "name": row.name,
            "description": row.description,
            "tags": row.tags,
            "space_id": row.space_id,
            "owner_id": row.owner_id,
            "created_at": timestamp(row.created_at),
            "usage": {"last_updated_at": timestamp(row.modified_at)},
            "revision_id": version.number if version else 0,
        },
        "entity": {"wml_model": {"type": row.type, "software_spec": {"id": row.software_spec_id}}},
        "href": f"/v2/assets/{row.id}?space_id={row.space_id}",
    }


def page(resources: list[dict[str, Any]], *, limit: int | None = None) -> dict[str, Any]:
    # No `next` link: the WML client joins relative hrefs into `//path` URLs (protocol notes 2).
    shown = resources if limit is None else resources[:limit]
    return {"total_count": len(resources), "limit": limit or len(resources), "resources": shown}


def deployment(
    row: Deployment,
    version: ModelVersion,
    base_url: str,
    *,
    candidate: ModelVersion | None = None,
    settings: DeploymentSettings | None = None,
) -> dict[str, Any]:
    """A deployment as WML shows it. `entity.asset` is where it is headed: the candidate while a
    replacement prepares one (the seed's asset patch answers with the asset being deployed), and
    back to the champion when that replacement fails. `entity.status.serving_asset` (champion's
    addition, beside the other runtime facts in `status`) is always the version answering now."""
    kind_entity: dict[str, Any] = {}
    status: dict[str, Any] = {"state": row.state, "serving_asset": asset_reference(version)}
    if row.kind == "online":
        parameters = {"serving_name": row.serving_name} if row.serving_name else {}
        kind_entity["online"] = {"parameters": parameters} if parameters else {}
        status["online_url"] = {"url": f"{base_url}/ml/v4/deployments/{row.id}/predictions"}
        urls = [f"{base_url}/ml/v4/deployments/{row.id}/predictions"]
        if row.serving_name:
            urls.append(f"{base_url}/ml/v4/deployments/{row.serving_name}/predictions")
        status["serving_urls"] = urls
    else:
        parameters = settings.batch.parameters if settings else {}
        kind_entity["batch"] = {"parameters": parameters} if parameters else {}
    if settings is not None and settings.hardware_request is not None:
        kind_entity["hardware_request"] = settings.hardware_request.model_dump(mode="json")
    if row.failure:
        status["failure"] = {"trace": row.id, "errors": row.failure}
    return {
        "metadata": {
            "id": row.id,
            "name": row.name,
            "description": row.description,
            "tags": row.tags,
            "space_id": row.space_id,
            "owner": row.owner_id,
            "created_at": timestamp(row.created_at),
            "modified_at": timestamp(row.modified_at),
            "href": f"/ml/v4/deployments/{row.id}?space_id={row.space_id}",
        },
        "entity": {
            "asset": asset_reference(candidate or version),
            **kind_entity,
            "custom": row.custom,
            "hardware_spec": row.hardware_spec,
            "space_id": row.space_id,
            "deployed_asset_type": "model",
            "status": status,
        },
    }


def asset_reference(version: ModelVersion) -> dict[str, Any]:
    return {"id": version.model_id, "rev": str(version.number)}


def described(item: Described, base_url: str) -> dict[str, Any]:
    body = deployment(item.deployment, item.version, base_url, candidate=item.candidate, settings=item.settings)
    if (form := item.serving_form) is not None:
        # champion's addition beside serving_asset: compiled (onnxruntime) or native, and the measured deviation.
        body["entity"]["status"]["serving_form"] = form.to_dict()
    # The WML client prints system.warnings[0]; the list is never sent empty.
    warnings = []
    if item.owner_left:
        warnings.append({"id": "owner_left", "message": OWNER_LEFT})
    if item.settings.hardware_request is not None:
        warnings.append({"id": "hardware_request_not_applied", "message": HARDWARE_NOT_APPLIED})
    if warnings:
        body["system"] = {"warnings": warnings}
    return body


def job(row: BatchJob, result: JobResult | None) -> dict[str, Any]:
    """A deployment job; `entity.scoring.status.progress` counts rows scored (champion's addition)."""
    status: dict[str, Any] = {
        "state": row.state,
        "progress": {"rows_scored": row.rows_scored, "rows_total": row.rows_total},
    }
    if row.started_at is not None:
        status["running_at"] = timestamp(row.started_at)
    if row.finished_at is not None:
        status["completed_at"] = timestamp(row.finished_at)
    if row.failure:
        status["failure"] = {"trace": row.id, "errors": row.failure}
    scoring: dict[str, Any] = {"status": status}
    if row.input_assets:
        scoring["input_data_references"] = [
            {"type": "data_asset", "connection": {}, "location": {"href": f"/v2/assets/{a}?space_id={row.space_id}"}}
            for a in row.input_assets
        ]
    if row.output_name is not None:
        location: dict[str, Any] = {"name": row.output_name}
        if row.output_asset_id is not None:
            location["href"] = f"/v2/assets/{row.output_asset_id}?space_id={row.space_id}"
        scoring["output_data_reference"] = {"type": "data_asset", "connection": {}, "location": location}
    if result is not None:
        scoring["predictions"] = [job_predictions(block) for block in result.blocks]
        status["served_by"] = result.served_by
    return {
        "metadata": {
            "id": row.id,
            "name": row.name,
            "space_id": row.space_id,
            "owner": row.created_by,
            "created_at": timestamp(row.created_at),
            "modified_at": timestamp(row.modified_at),
            "href": f"/ml/v4/deployment_jobs/{row.id}?space_id={row.space_id}",
        },
        "entity": {"deployment": {"id": row.deployment_id}, "space_id": row.space_id, "scoring": scoring},
    }


def job_predictions(block: ResultBlock) -> dict[str, Any]:
    """One block of a job's predictions, shaped as online scoring answers (`predictions()`)."""
    if block.probabilities is None:
        return {"fields": ["prediction"], "values": [[label] for label in block.labels]}
    return {
        "fields": ["prediction", "probability"],
        "values": [[label, row] for label, row in zip(block.labels, block.probabilities, strict=True)],
    }


def data_asset(row: DataAsset) -> dict[str, Any]:
    """The CAMS view of a data asset, with its file as the one attachment."""
    return {
        "metadata": {
            "asset_id": row.id,
            "asset_type": "data_asset",
            "name": row.name,
            "description": row.description,
            "space_id": row.space_id,
            "owner_id": row.created_by,
            "created_at": timestamp(row.created_at),
            "size": row.size,
            "usage": {"last_updated_at": timestamp(row.modified_at)},
            "asset_state": "available",
        },
        "entity": {"data_asset": {"mime_type": row.mime_type}},
        "attachments": [attachment(row)] if row.attachment_id else [],
        "href": f"/v2/assets/{row.id}?space_id={row.space_id}",
    }


def attachment(row: DataAsset) -> dict[str, Any]:
    return {
        "id": row.attachment_id,
        "asset_id": row.id,
        "asset_type": "data_asset",
        "name": row.file_name,
        "mime": row.mime_type,
        "size": row.size,
        "complete": row.sha256 is not None,
    }


def add_validation(body: dict[str, Any], report: ValidationReport) -> None:
    """Put a replacement's checks on a deployment body, and the seed's warning when schemas differ."""
    status = body["entity"]["status"]
    status["validation"] = report.to_dict()
    if report.schema_mismatch:
        status["message"] = {"level": "warning", "text": SCHEMA_MISMATCH}
        warnings = body.setdefault("system", {}).setdefault("warnings", [])
        warnings.append({"id": "schema_mismatch", "message": SCHEMA_MISMATCH})


def replacement(entry: HistoryEntry) -> dict[str, Any]:
    record = entry.record

    def version(v: ModelVersion | None, version_id: str) -> dict[str, Any]:
        return {"id": v.model_id, "rev": str(v.number)} if v else {"version_id": version_id, "deleted": True}

    return {
        "metadata": {
            "id": record.id,
            "created_at": timestamp(record.created_at),
            "finished_at": timestamp(record.finished_at) if record.finished_at else None,
            "operation_id": record.operation_id,
        },
        "entity": {
            "kind": record.kind,
            "from": version(entry.from_version, record.from_version_id),
            "to": version(entry.to_version, record.to_version_id),
            "reason": record.reason,
            "actor": record.actor_id,
            "outcome": record.outcome,
            "message": record.message,
            "validation": record.report,
        },
    }
