"""`cached_path`: a blob's local path only when reading it costs no download (a job's creation asks it)."""

from __future__ import annotations

from pathlib import Path

from champion.artifacts import LocalArtifactStore
from champion.artifacts.s3 import S3ArtifactStore
from tests import s3_server
from tests.s3_server import S3Server

s3 = s3_server.s3


def kept(store: LocalArtifactStore | S3ArtifactStore, tmp_path: Path, content: bytes) -> str:
    source = tmp_path / "source"
    source.write_bytes(content)
    return store.keep(store.stage(source))


def test_a_local_blob_is_cached_while_it_is_kept(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    digest = kept(store, tmp_path, b"local")
    assert store.cached_path(digest) == store.open_path(digest)
    store.delete(digest)
    assert store.cached_path(digest) is None


def test_a_blob_only_in_the_bucket_is_not_cached_and_asking_does_not_fetch_it(s3: S3Server, tmp_path: Path) -> None:
    uploader = S3ArtifactStore(s3.url_for("cached-path"), tmp_path / "uploader")
    digest = kept(uploader, tmp_path, b"in the bucket")
    path = uploader.cached_path(digest)
    assert path is not None and path.read_bytes() == b"in the bucket"  # the uploader keeps what it sent
    other = S3ArtifactStore(uploader.url, tmp_path / "other")  # another host, its cache empty
    assert other.cached_path(digest) is None
    assert not other.cache.open_path(digest).exists()  # asking did not download it
    assert other.open_path(digest).read_bytes() == b"in the bucket"
    assert other.cached_path(digest) == other.open_path(digest)
