"""The S3 artifact store against moto's S3 server: the same contract as the local folder, plus what a
bucket shared by several hosts needs (written once, every download checked before it is cached)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from champion.artifacts import open_store
from champion.artifacts.errors import DamagedBlob, StoreUnavailable
from champion.artifacts.s3 import S3ArtifactStore
from champion.config import Settings
from tests import s3_server
from tests.s3_server import S3Server
from tests.servers import free_port

s3 = s3_server.s3


@pytest.fixture
def store(s3: S3Server, tmp_path: Path, request: pytest.FixtureRequest) -> S3ArtifactStore:
    """A store of its own place in the bucket (named after the test), cached under `tmp_path`."""
    return S3ArtifactStore(s3.url_for(request.node.name), tmp_path / "cache")


def replica(store: S3ArtifactStore, tmp_path: Path, name: str = "replica") -> S3ArtifactStore:
    """Another host on the same bucket and prefix, with a cache of its own."""
    return S3ArtifactStore(store.url, tmp_path / name)


def kept(store: S3ArtifactStore, tmp_path: Path, content: bytes) -> str:
    source = tmp_path / hashlib.md5(content).hexdigest()
    source.write_bytes(content)
    return store.keep(store.stage(source))


def object_bytes(s3: S3Server, store: S3ArtifactStore, digest: str) -> bytes:
    body: bytes = s3.client().get_object(Bucket=s3.bucket, Key=key(store, digest))["Body"].read()
    return body


def key(store: S3ArtifactStore, digest: str) -> str:
    return f"{store.root}{digest[:2]}/{digest}"


def overwrite(s3: S3Server, store: S3ArtifactStore, digest: str, content: bytes) -> None:
    """What a stray writer, or a damaged disk behind the bucket, would do to an object."""
    s3.client().put_object(Bucket=s3.bucket, Key=key(store, digest), Body=content)


def test_a_kept_blob_is_in_the_bucket_under_its_digest_and_in_the_uploaders_cache(
    s3: S3Server, store: S3ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"model bytes")
    staged = store.stage(source)
    digest = store.keep(staged)
    assert digest == hashlib.sha256(b"model bytes").hexdigest()
    assert s3.object_keys(store.root.rstrip("/")) == [key(store, digest)]
    assert key(store, digest).endswith(f"/sha256/{digest[:2]}/{digest}")
    assert object_bytes(s3, store, digest) == b"model bytes"
    assert store.exists(digest) and not staged.path.exists()
    # The uploader reads its own copy: the bucket's object is not downloaded again (here it differs).
    overwrite(s3, store, digest, b"changed in the bucket")
    assert store.open_path(digest).read_bytes() == b"model bytes"
    assert store.open_path(digest).is_relative_to(tmp_path / "cache" / "sha256")


def test_a_blob_is_written_once(s3: S3Server, store: S3ArtifactStore, tmp_path: Path) -> None:
    digest = kept(store, tmp_path, b"same content")
    overwrite(s3, store, digest, b"marker: the first object")
    again = replica(store, tmp_path)
    assert kept(again, tmp_path, b"same content") == digest
    assert object_bytes(s3, store, digest) == b"marker: the first object"  # left as it was, not rewritten
    assert again.open_path(digest).read_bytes() == b"same content"  # its staged copy moved into its cache
    assert list(again.staging.iterdir()) == []


def test_a_large_upload_goes_up_in_parts_streamed_from_disk(
    s3: S3Server, store: S3ArtifactStore, tmp_path: Path
) -> None:
    size = 48 * 1024**2
    source = tmp_path / "large.bin"
    with source.open("wb") as handle:
        for _ in range(size // 1024**2):
            handle.write(os.urandom(1024**2))
    staged = store.stage(source)
    tracemalloc.start()
    try:
        store.keep(staged)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    head = s3.client().head_object(Bucket=s3.bucket, Key=key(store, staged.sha256))
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-6")  # a multipart upload's ETag counts its parts: 8 MiB each
    # Read from disk as sent (about 7 MiB at most, whatever the size): not the file, nor its four parts in flight.
    assert peak < size // 4, f"the upload held {peak} bytes of a {size}-byte file in memory"
    fetched = replica(store, tmp_path).open_path(staged.sha256)
    assert fetched.stat().st_size == size and hashlib.sha256(fetched.read_bytes()).hexdigest() == staged.sha256


def test_another_host_downloads_a_blob_once_and_keeps_it(s3: S3Server, store: S3ArtifactStore, tmp_path: Path) -> None:
    digest = kept(store, tmp_path, b"served everywhere")
    other = replica(store, tmp_path)
    path = other.open_path(digest)
    assert path == tmp_path / "replica" / "sha256" / digest[:2] / digest
    assert path.read_bytes() == b"served everywhere"
    overwrite(s3, store, digest, b"changed in the bucket")
    assert other.open_path(digest).read_bytes() == b"served everywhere"  # from its cache, not the bucket
    assert list(other.staging.iterdir()) == []


def test_hosts_fetching_one_blob_at_once_all_get_it_whole(s3: S3Server, store: S3ArtifactStore, tmp_path: Path) -> None:
    content = os.urandom(3 * 1024**2)
    digest = kept(store, tmp_path, content)
    # Two stores on one cache folder are two processes of one host; their downloads race to the rename.
    hosts = [replica(store, tmp_path, "shared"), replica(store, tmp_path, "shared")]
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda i: hosts[i % 2].open_path(digest), range(8)))
    assert {p.read_bytes() == content for p in paths} == {True}
    assert list(hosts[0].staging.iterdir()) == []


def test_a_damaged_object_is_refused_and_never_cached(
    s3: S3Server, store: S3ArtifactStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    digest = kept(store, tmp_path, b"the real model")
    overwrite(s3, store, digest, b"the real mode1")
    other = replica(store, tmp_path)
    with caplog.at_level(logging.WARNING, logger="champion.artifacts.s3"), pytest.raises(DamagedBlob) as raised:
        other.open_path(digest)
    assert digest in raised.value.message
    assert any(digest in record.getMessage() for record in caplog.records)
    assert not (tmp_path / "replica" / "sha256" / digest[:2] / digest).exists()
    assert list(other.staging.iterdir()) == []
    # Once the bucket holds the right bytes again, the blob is served.
    overwrite(s3, store, digest, b"the real model")
    assert other.open_path(digest).read_bytes() == b"the real model"


def test_a_missing_blob_is_a_path_that_does_not_exist(store: S3ArtifactStore) -> None:
    digest = hashlib.sha256(b"never kept").hexdigest()
    assert not store.exists(digest)
    path = store.open_path(digest)
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        path.read_bytes()
    with pytest.raises(ValueError, match="not a sha256 digest"):
        store.open_path("../../etc/passwd")


def test_deleting_a_blob_removes_the_object_the_cached_copy_and_what_was_derived(
    s3: S3Server, store: S3ArtifactStore, tmp_path: Path
) -> None:
    doomed, spared = kept(store, tmp_path, b"doomed"), kept(store, tmp_path, b"spared")
    for digest in (doomed, spared):
        derived = store.open_path(digest).with_name(f"{digest}.compiled")
        derived.mkdir()
        (derived / "graph.onnx").write_bytes(b"graph")
    store.delete(doomed)
    assert s3.object_keys(store.root.rstrip("/")) == [key(store, spared)]
    assert not store.exists(doomed) and not store.open_path(doomed).exists()
    assert not store.open_path(doomed).with_name(f"{doomed}.compiled").exists()
    assert (store.open_path(spared).with_name(f"{spared}.compiled") / "graph.onnx").is_file()
    assert set(store.digests()) == {spared}


def test_digests_can_leave_out_young_blobs(
    s3: S3Server, store: S3ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = kept(store, tmp_path, b"first"), kept(store, tmp_path, b"second")
    # Not a blob: another tool's object under the prefix is never listed (nor swept as an orphan).
    s3.client().put_object(Bucket=s3.bucket, Key=f"{store.root}notes.txt", Body=b"x")
    assert set(store.digests()) == {first, second}
    assert set(store.digests(older_than=3600)) == set()
    later = time.time() + 7200  # the bucket's clock cannot be moved; the store's can
    monkeypatch.setattr("champion.artifacts.s3.time.time", lambda: later)
    assert set(store.digests(older_than=3600)) == {first, second}


def test_clearing_staging_spares_uploads_in_progress(store: S3ArtifactStore) -> None:
    stale, fresh = store.stage_dir(), store.stage_dir()
    then = time.time() - 7200
    os.utime(stale, (then, then))
    store.clear_staging(older_than=3600)
    assert not stale.exists() and fresh.exists()


def test_a_missing_bucket_fails_when_the_store_opens_in_one_line(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        S3ArtifactStore("s3://no-such-bucket/blobs", tmp_path / "cache")
    assert raised.value.message == (
        f"cannot use s3://no-such-bucket/blobs: the bucket 'no-such-bucket' does not exist at {s3.endpoint}"
    )


def test_an_endpoint_that_does_not_answer_fails_when_the_store_opens(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StoreUnavailable) as raised:
        S3ArtifactStore(s3.url, tmp_path / "cache")
    assert raised.value.message.startswith(f"cannot use {s3.url}: ") and closed in raised.value.message
    assert "\n" not in raised.value.message


def test_the_settings_choose_the_bucket_and_leave_the_artifact_folder_alone(s3: S3Server, tmp_path: Path) -> None:
    chosen = open_store(Settings(home=tmp_path, artifacts_url=s3.url))
    assert isinstance(chosen, S3ArtifactStore) and chosen.url == s3.url
    assert chosen.staging == tmp_path / "cache" / "staging"
    assert not (tmp_path / "artifacts").exists()
