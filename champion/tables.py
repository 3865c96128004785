"""Every domain's tables in one import, for Alembic and for create-time checks."""

from champion.challengers.tables import Challenger, ChallengerReplay, ChallengerResult
from champion.changes import ChangeCounter
from champion.cluster.tables import ProcessReport
from champion.deployments.tables import Deployment, DeploymentSettingsRow
from champion.jobs.tables import BatchJob, DataAsset
from champion.models.tables import ModelVersion, RegisteredModel
from champion.monitoring.tables import (
    Actual,
    AssociatedPrediction,
    CaptureFile,
    DriftBaseline,
    DriftCount,
    ServiceWindow,
)
from champion.operations.tables import Operation
from champion.replacement.tables import ReplacementRecord
from champion.spaces.tables import Space, SpaceMember
from champion.users.tables import ApiKey, BrowserSession, User

__all__ = [
    "Actual",
    "ApiKey",
    "AssociatedPrediction",
    "BatchJob",
    "BrowserSession",
    "CaptureFile",
    "Challenger",
    "ChallengerReplay",
    "ChallengerResult",
    "ChangeCounter",
    "DataAsset",
    "Deployment",
    "DeploymentSettingsRow",
    "DriftBaseline",
    "DriftCount",
    "ModelVersion",
    "Operation",
    "ProcessReport",
    "RegisteredModel",
    "ReplacementRecord",
    "ServiceWindow",
    "Space",
    "SpaceMember",
    "User",
]
