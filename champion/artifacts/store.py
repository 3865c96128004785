"""The artifact store interface and its local-folder implementation.

Uploads are first staged (streamed to a temporary file while counting and hashing, so an
oversized upload is refused without ever being held in memory), then either kept under
their digest or discarded. A blob is written once and never changed, which is what makes
a model version immutable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from champion.errors import InvalidInput, PayloadTooLarge


@dataclass(frozen=True)
class StagedFile:
    """An upload on local disk, not yet kept. `path` is gone once kept or discarded."""

    path: Path
    sha256: str
    size: int


class ArtifactStore(Protocol):
    def stage_dir(self) -> Path:
        """A fresh private folder for unpacking uploads; the caller removes it."""
        ...

    def stage(self, path: Path) -> StagedFile:
        """Hash `path` as a file to keep; a file outside the staging folder is copied in first."""
        ...

    def keep(self, staged: StagedFile) -> str:
        """Move a staged file under its digest and return the digest; a file outside staging is refused."""
        ...

    def open_path(self, sha256: str) -> Path:
        """A local path to read the blob from; it does not exist when the blob does not (callers then see
        FileNotFoundError). Derived files may be kept beside it in `<digest>.<kind>/` folders."""
        ...

    def cached_path(self, sha256: str) -> Path | None:
        """The blob's local path when it is on this host's disk already, else None: for a quick look that
        is not worth a download (a data asset's memory estimate when a job is created)."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...

    def digests(self, *, older_than: float = 0) -> Iterable[str]:
        """Every blob's digest; with `older_than`, only blobs written at least that many seconds ago."""
        ...

    def clear_staging(self, *, older_than: float = 0) -> None:
        """Drop what interrupted uploads left in staging; with `older_than`, only leftovers that old."""
        ...


class LocalArtifactStore:
    """Blobs at `<root>/sha256/<first two hex>/<digest>`; staging under `<root>/staging`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / "staging"
        self.blobs = root / "sha256"
        self.staging.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)

    def stage_dir(self) -> Path:
        path = self.staging / uuid.uuid4().hex
        path.mkdir()
        return path

    def stage(self, path: Path) -> StagedFile:
        # `keep` moves the staged file, or deletes it when the blob exists: a file of the caller's
        # elsewhere on disk is copied in, so the store only ever moves or deletes its own copies.
        if not self.is_staged(path):
            copy = self.staging / uuid.uuid4().hex
            shutil.copyfile(path, copy)
            path = copy
        return StagedFile(path=path, sha256=sha256_of(path), size=path.stat().st_size)

    def keep(self, staged: StagedFile) -> str:
        # Defence in depth: a path taken from an archive once named another model's blob here, which
        # was then deleted as a duplicate. Whatever a caller passes, only files in staging move.
        if not self.is_staged(staged.path):
            raise ValueError(f"refusing to keep {staged.path}: it is not in the staging folder")
        target = self._blob_path(staged.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            staged.path.unlink(missing_ok=True)
        else:
            os.replace(staged.path, target)
        return staged.sha256

    def open_path(self, sha256: str) -> Path:
        return self._blob_path(sha256)

    def cached_path(self, sha256: str) -> Path | None:
        path = self._blob_path(sha256)
        return path if path.is_file() else None

    def exists(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        """Remove the blob and what was derived from it: files kept beside it in `<digest>.<kind>/` folders
        (a compiled model's graph, `runtimes/compiled.py`) go with it."""
        path = self._blob_path(sha256)
        path.unlink(missing_ok=True)
        for derived in path.parent.glob(f"{sha256}.*"):
            if derived.is_dir() and not derived.is_symlink():
                shutil.rmtree(derived, ignore_errors=True)

    def digests(self, *, older_than: float = 0) -> Iterable[str]:
        cutoff = time.time() - older_than
        blobs = (path for path in self.blobs.glob("*/*") if path.is_file())
        return (path.name for path in blobs if not older_than or path.stat().st_mtime <= cutoff)

    def clear_staging(self, *, older_than: float = 0) -> None:
        """Drop what interrupted uploads left behind (called at start-up); with `older_than`, only
        what was left that many seconds ago or more, so that another replica's uploads survive."""
        cutoff = time.time() - older_than
        for entry in self.staging.iterdir():
            if older_than and entry.stat().st_mtime > cutoff:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def is_staged(self, path: Path) -> bool:
        """Whether `path` is a regular file of the staging folder itself (not a link to one elsewhere)."""
        return (
            not path.is_symlink()
            and path.resolve().is_relative_to(self.staging.resolve())
            and path.resolve() != self.staging.resolve()
        )

    def _blob_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.blobs / sha256[:2] / sha256


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


async def receive(chunks: AsyncIterator[bytes], target: Path, *, limit: int) -> int:
    """Write a request body to `target`, refusing it as soon as it passes `limit` bytes."""
    size = 0
    with target.open("wb") as handle:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                handle.close()
                target.unlink(missing_ok=True)
                raise PayloadTooLarge(f"the upload is larger than the limit of {limit} bytes", field="content")
            handle.write(chunk)
    if size == 0:
        target.unlink(missing_ok=True)
        raise InvalidInput("the upload is empty", field="content")
    return size
