"""Where model files live: content-addressed by SHA-256 behind a small interface."""

from champion.artifacts.store import ArtifactStore, LocalArtifactStore, StagedFile

__all__ = ["ArtifactStore", "LocalArtifactStore", "StagedFile"]
