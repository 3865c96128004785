"""champion's things in DataRobot's JSON shapes (protocol reference, sections 3 and 8).

The client drops null keys and rejects blank `id`, `status`, `importance` and `model.id`, so
unknown values are sent as null (or left out), never as "".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.datastructures import URL

from champion.api.datarobot.lookup import DeploymentItem, Package
from champion.deployments.types import State
from champion.models.tables import ModelVersion
from champion.operations.tables import Operation
from champion.replacement.checks import ValidationReport
from champion.replacement.service import HistoryEntry
from champion.runtimes import Signature
from champion.runtimes.base import TargetType
from champion.spaces.types import Role

VERSION = {"major": 2, "minor": 49, "versionString": "2.49.0"}

TARGET_TYPES = {
    TargetType.BINARY: "Binary",
    TargetType.MULTICLASS: "Multiclass",
    TargetType.REGRESSION: "Regression",
}

# DataRobot's deployment statuses. A deployment being replaced still answers with its old model,
# so it stays `active`.
STATUSES = {
    State.READY: "active",
    State.UPDATING: "active",
    State.INITIALIZING: "launching",
    State.FAILED: "errored",
    State.INACTIVE: "inactive",
}

PERMISSIONS = {
    Role.VIEWER: ["CAN_VIEW"],
    Role.EDITOR: ["CAN_VIEW", "CAN_EDIT", "CAN_DELETE", "CAN_MAKE_PREDICTIONS", "CAN_REPLACE_MODEL"],
    Role.ADMIN: ["CAN_VIEW", "CAN_EDIT", "CAN_DELETE", "CAN_MAKE_PREDICTIONS", "CAN_REPLACE_MODEL", "CAN_SHARE"],
}

# What this server does for a deployment, under DataRobot's capability names (its
# DeploymentCapabilitiesResponse; the client itself never reads them). Drift is tracked from
# captured predictions, humility rules act on predictions, and challengers replay captured traffic
# (`challengers.py`); champion recommends no rules and computes no default thresholds for them,
# and it has no prediction intervals or warnings, segments, secondary datasets or automatic
# actuals yet.
CAPABILITIES = {
    "supportsModelReplacement": True,
    "supportsChallengerModels": True,
    "supportsFeatureDriftTracking": True,
    "supportsTargetDriftTracking": True,
    "supportsHumilityRules": True,
    "supportsHumilityRecommendedRules": False,
    "supportsHumilityRulesDefaultCalculations": False,
    "supportsPredictionIntervals": False,
    "supportsPredictionWarning": False,
    "supportsSecondaryDatasets": False,
    "supportsAutomaticActuals": False,
    "supportsSegmentedAnalysisDriftAndAccuracy": False,
    "supportsScoringCodeDownload": False,
    "supportsPortablePredictionServer": False,
    "supportsRetraining": False,
    "supportsShapBasedPredictionExplanations": False,
}

UNKNOWN_HEALTH = {"status": "unknown", "message": "", "startDate": None, "endDate": None}


def timestamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def package_name(version: ModelVersion) -> str:
    """The name its model had when the version was made (the revision's snapshot), numbered: a package
    keeps its name when the model is renamed later, as a WML revision keeps its metadata."""
    return f"{version.name} v{version.number}"


def package_ref(version: ModelVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {
        "id": version.id,
        "name": package_name(version),
        "registeredModelId": version.model_id,
        "registeredModelVersion": version.number,
    }


def _target(signature: Signature) -> dict[str, Any]:
    target = signature.target
    body: dict[str, Any] = {"name": target.name, "type": TARGET_TYPES[target.type]}
    if target.classes:
        body["classNames"] = [str(c) for c in target.classes]
    return body


def deployment(item: DeploymentItem, base_url: str) -> dict[str, Any]:
    row, version = item.described.deployment, item.described.version
    signature = Signature.from_dict(version.signature)
    importance = row.custom.get("importance")
    return {
        "id": row.id,
        "label": row.name,
        "description": row.description,
        "status": STATUSES.get(State(row.state), "errored"),
        "importance": importance if isinstance(importance, str) and importance else None,
        "model": {
            "id": version.id,
            "type": item.model.type if item.model else version.framework,
            "targetName": signature.target.name,
            "targetType": TARGET_TYPES[signature.target.type],
            "projectId": None,
            "registeredModelId": version.model_id,
            "registeredModelVersion": version.number,
            "framework": version.framework,
            "deployedAt": timestamp(row.modified_at),
        },
        "modelPackage": package_ref(version),
        "defaultPredictionServer": {"id": "champion", "url": base_url, "datarobot-key": ""},
        "predictionEnvironment": None,
        "predictionUsage": {"dailyRates": [], "lastTimestamp": None},
        "permissions": PERMISSIONS[item.role],
        "capabilities": CAPABILITIES,
        "serviceHealth": UNKNOWN_HEALTH,
        "modelHealth": UNKNOWN_HEALTH,
        "accuracyHealth": UNKNOWN_HEALTH,
        "fairnessHealth": UNKNOWN_HEALTH,
        "governance": {"approvalStatus": "APPROVED", "hasOpenChangeRequests": False},
        "owners": {"count": 1, "preview": [{"id": row.owner_id}]},
        "creator": {"id": row.owner_id},
        "createdAt": timestamp(row.created_at),
        "tags": [{"name": tag, "value": ""} for tag in row.tags if isinstance(tag, str)],
        # champion's own view, for callers who also use the WML face.
        "spaceId": row.space_id,
        "state": row.state,
        "failure": row.failure,
    }


def model_package(found: Package, *, role: Role | None = None, deployments: int | None = None) -> dict[str, Any]:
    """A registered model version; without `role` the champion model package (no permissions, no count)."""
    version, model = found.version, found.model
    signature = Signature.from_dict(version.signature)
    body: dict[str, Any] = {
        "id": version.id,
        "registeredModelId": model.id,
        "registeredModelVersion": version.number,
        "name": package_name(version),
        "modelId": version.id,
        "modelExecutionType": "dedicated",
        "isArchived": False,
        "isDeprecated": False,
        "importMeta": {
            "creatorId": version.created_by,
            "dateCreated": timestamp(version.created_at),
            "originalFileName": version.filename,
        },
        "sourceMeta": {"spaceId": model.space_id, "sha256": version.sha256},
        "modelKind": {
            "isTimeSeries": False,
            "isMultiseries": False,
            "isUnsupervisedLearning": False,
            "isAnomalyDetectionModel": False,
            "targetType": TARGET_TYPES[signature.target.type],
        },
        "target": _target(signature),
        "modelDescription": {
            "modelName": model.name,
            "description": model.description,
            "framework": version.framework,
            "modelType": model.type,
        },
        "datasets": {},
        "timeseries": {},
        "features": [{"name": f.name, "type": f.type.value} for f in signature.features],
        "buildStatus": "complete",
        "updatedAt": timestamp(version.created_at),
        "tags": [],
    }
    if role is not None:
        body["permissions"] = PERMISSIONS[role]
        body["activeDeploymentCount"] = deployments or 0
    return body


def validation(report: ValidationReport) -> dict[str, Any]:
    """DataRobot's validation body: the overall status and message, and each check by name."""
    return {
        "status": report.status.value,
        "message": report.message,
        "checks": {c.name: {"status": c.status.value, "message": c.message} for c in report.checks},
    }


def history_entry(entry: HistoryEntry) -> dict[str, Any]:
    record = entry.record
    report = ValidationReport.from_dict(record.report)

    return {
        "id": record.id,
        "kind": record.kind,
        "reason": record.reason,
        "outcome": record.outcome,
        "message": record.message,
        "replacedAt": timestamp(record.created_at),
        "finishedAt": timestamp(record.finished_at),
        "replacedBy": {"id": record.actor_id},
        "previousModelPackage": package_ref(entry.from_version),
        "modelPackage": package_ref(entry.to_version),
        "statusId": record.operation_id,
        "validation": validation(report),
    }


def page(items: list[dict[str, Any]], *, total: int, offset: int, limit: int, url: URL) -> dict[str, Any]:
    """DataRobot's envelope, with absolute `next`/`previous` links (the client follows `next`)."""

    def link(start: int) -> str:
        return str(url.include_query_params(offset=start, limit=limit))

    following = offset + limit
    return {
        "count": len(items),
        "totalCount": total,
        "next": link(following) if following < total else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "data": items,
    }


def job_status(operation: Operation) -> dict[str, Any]:
    """A running (or not yet started) operation, as DataRobot's status resource."""
    return {
        "status": "RUNNING" if operation.state == "running" else "INITIALIZED",
        "message": operation.message,
        "code": 0,
        "created": timestamp(operation.created_at),
        "statusId": operation.id,
    }
