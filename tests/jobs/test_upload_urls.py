"""A data asset's upload URL carries a one-time secret: one upload through it succeeds, then it opens nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from champion.artifacts.store import LocalArtifactStore, StagedFile
from champion.context import ServerContext
from champion.jobs import assets
from champion.jobs.errors import UploadUrlUsed
from champion.jobs.schemas import NewDataAsset
from champion.jobs.tables import DataAsset
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor


class Interleaved(LocalArtifactStore):
    """The real store, running `meanwhile` once when the next file is staged: an upload stages its
    body after its URL was checked and before the URL is spent, the window a racing upload hits."""

    def __init__(self, root: Path, meanwhile: Callable[[], object]) -> None:
        super().__init__(root)
        self.meanwhile: Callable[[], object] | None = meanwhile

    def stage(self, path: Path) -> StagedFile:
        if self.meanwhile is not None:
            run, self.meanwhile = self.meanwhile, None
            run()
        return super().stage(path)


def test_of_two_uploads_racing_through_one_url_one_is_kept(context: ServerContext, alice: Actor) -> None:
    with context.sessions() as session:
        space_id = spaces.create_space(session, alice, details=SpaceDetails(name="s")).id
        asset = assets.create(session, alice, space_id=space_id, new=NewDataAsset(name="d"))
        asset, secret = assets.open_attachment(session, alice, asset_id=asset.id, space_id=space_id, file_name="d.csv")
        asset_id, attachment_id = asset.id, asset.attachment_id
    assert attachment_id is not None
    url = {"asset_id": asset_id, "attachment_id": attachment_id, "secret": secret}
    first, second = context.store.stage_dir() / "body", context.store.stage_dir() / "body"
    first.write_bytes(b"x1\n1\n")
    second.write_bytes(b"x1\n2\n")
    kept: list[str | None] = []

    with context.sessions() as slow, context.sessions() as fast:

        def fast_upload() -> None:
            kept.append(assets.receive_content(fast, context.store, **url, upload=first).sha256)

        # The slow upload's URL check passes; the fast one then completes; the slow one may not overwrite it.
        with pytest.raises(UploadUrlUsed, match="used already"):
            assets.receive_content(slow, Interleaved(context.store.root, fast_upload), **url, upload=second)

    (digest,) = kept
    assert digest is not None and context.store.open_path(digest).read_bytes() == b"x1\n1\n"
    with context.sessions() as session:
        row = session.get(DataAsset, asset_id)
        assert row is not None and row.sha256 == digest and row.upload_digest is None
    assert set(context.store.digests()) == {digest}
