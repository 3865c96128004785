"""What the monitoring tests share: one online deployment, made through the services (no server)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from champion.context import ServerContext
from champion.deployments import lifecycle
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.types import Kind
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.models.tables import ModelVersion
from champion.runtimes import Signature
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor
from tests.model_files import ModelFiles


@dataclasses.dataclass(frozen=True)
class Deployed:
    deployment_id: str
    version_id: str
    signature: Signature


@pytest.fixture
def deployed(context: ServerContext, alice: Actor, model_files: ModelFiles, tmp_path: Path) -> Deployed:
    """An online deployment of the classifier taking x1, x2, x3."""
    upload = tmp_path / "upload.joblib"
    shutil.copy(model_files.classifier_named, upload)
    with context.sessions() as session:
        space = spaces.create_space(session, alice, details=SpaceDetails(name="s"))
        model = models.create_model(
            session,
            alice,
            space_id=space.id,
            new=NewModel(name="m", type="scikit-learn_1.3", software_spec_id=CATALOGUE[0].id),
        )
        models.add_version(session, alice, context.store, model_id=model.id, upload=upload, limit=10**8)
        described, _ = deployments.create(
            session, alice, space_id=space.id, new=NewDeployment(name="dep", kind=Kind.ONLINE, model_id=model.id)
        )
        lifecycle.deployed(session, deployment_id=described.deployment.id, version_id=described.version.id)
        session.commit()
        version = session.get(ModelVersion, described.version.id)
        assert version is not None
        return Deployed(described.deployment.id, version.id, Signature.from_dict(version.signature))
