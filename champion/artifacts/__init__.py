"""Where model files live: content-addressed by SHA-256 behind a small interface."""

from champion.artifacts.store import ArtifactStore, LocalArtifactStore, StagedFile
from champion.config import Settings


def open_store(settings: Settings) -> ArtifactStore:
    """The store the settings name: a bucket (`CHAMPION_ARTIFACTS_URL`) or the local folder.

    Opening a bucket checks it, so a wrong name, endpoint or credentials end the start-up
    (`StoreUnavailable`) rather than the first upload."""
    if settings.artifacts_url is not None:
        # Imported here: boto3 is loaded only by a server that keeps its blobs in a bucket.
        from champion.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(settings.artifacts_url, settings.cache_dir)
    return LocalArtifactStore(settings.resolved_artifacts_dir)


__all__ = ["ArtifactStore", "LocalArtifactStore", "StagedFile", "open_store"]
