"""A replacement candidate whose object was changed in the bucket is refused by the artifact check, as a
changed local file is (tests/replacement/test_service.py), rather than failing the request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from champion.artifacts.errors import DamagedBlob
from champion.config import Settings
from champion.context import ServerContext
from champion.errors import ValidationFailed
from champion.models import service as models
from champion.users.service import Actor
from tests import s3_server
from tests.replacement import test_service as replacements
from tests.s3_server import S3Server

s3 = s3_server.s3
live = replacements.live
variants = replacements.variants


@pytest.fixture
def settings(tmp_path: Path, s3: S3Server) -> Settings:
    return Settings(home=tmp_path / "home", artifacts_url=s3.url_for(tmp_path.name), max_upload_bytes=5_000_000)


def test_a_candidate_damaged_in_the_bucket_fails_model_status(
    s3: S3Server, context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    replacements.add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    with context.sessions() as session:
        digest = models.get_version(session, alice, model_id=live["model"], number=2).sha256
    # As another replica sees it: nothing cached yet, and the bucket's copy changed.
    context.store.open_path(digest).unlink()
    key = f"{s3.url_for(tmp_path.name).removeprefix(f's3://{s3.bucket}/')}/sha256/{digest[:2]}/{digest}"
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=b"tampered")
    with pytest.raises(ValidationFailed, match="modelStatus"):
        replacements.start(context, alice, live, 2)
    with pytest.raises(DamagedBlob):
        context.store.open_path(digest)  # and it was not cached on the way
