"""The local artifact store's start-up housekeeping, alone and beside other replicas."""

import os
import time
from pathlib import Path

from champion.artifacts import LocalArtifactStore


def kept(store: LocalArtifactStore, tmp_path: Path, content: bytes, *, age: float = 0) -> str:
    source = tmp_path / content.hex()
    source.write_bytes(content)
    digest = store.keep(store.stage(source))
    if age:
        then = time.time() - age
        os.utime(store.open_path(digest), (then, then))
    return digest


def test_digests_can_leave_out_young_blobs(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    old = kept(store, tmp_path, b"old", age=7200)
    new = kept(store, tmp_path, b"new")
    assert set(store.digests()) == {old, new}
    assert set(store.digests(older_than=3600)) == {old}


def test_clearing_staging_can_spare_uploads_in_progress(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    stale, fresh = store.stage_dir(), store.stage_dir()
    (stale / "body").write_bytes(b"left by a crash")
    then = time.time() - 7200
    os.utime(stale, (then, then))
    store.clear_staging(older_than=3600)
    assert not stale.exists() and fresh.exists()
    store.clear_staging()
    assert not fresh.exists() and store.staging.is_dir()


def test_deleting_a_blob_deletes_what_was_derived_from_it_and_nothing_else(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    doomed, kept_too = kept(store, tmp_path, b"doomed"), kept(store, tmp_path, b"kept")
    for digest in (doomed, kept_too):
        derived = store.open_path(digest).with_name(f"{digest}.compiled")
        derived.mkdir()
        (derived / "graph.onnx").write_bytes(b"graph")
    store.delete(doomed)
    assert not store.exists(doomed)
    assert not store.open_path(doomed).with_name(f"{doomed}.compiled").exists()
    assert (store.open_path(kept_too).with_name(f"{kept_too}.compiled") / "graph.onnx").is_file()
    assert set(store.digests()) == {kept_too}
