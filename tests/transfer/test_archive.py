"""The archive format without a database: streaming write, one-pass read, and each way an archive can be bad."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from champion.transfer import archive
from champion.transfer.archive import Blob
from champion.transfer.errors import BadArchive
from champion.transfer.manifest import FORMAT_VERSION, Manifest

LIMIT = 1_000_000


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest_for(model_files: dict[str, bytes], assets: dict[str, bytes] | None = None) -> dict[str, Any]:
    """A manifest with one model holding a revision per file, and the given data assets."""
    versions = [
        {"number": n, "sha256": sha(content), "file_name": name, "framework": "scikit-learn", "size": len(content)}
        for n, (name, content) in enumerate(model_files.items(), start=1)
    ]
    return {
        "format_version": FORMAT_VERSION,
        "champion_version": "0.1.0",
        "exported_at": "2026-01-01T00:00:00+00:00",
        "space": {"id": "s", "name": "source"},
        "models": [{"name": "m", "type": "scikit-learn_1.3", "software_spec_id": "x", "versions": versions}],
        "data_assets": [
            {"name": name, "file_name": name, "sha256": sha(content), "size": len(content)}
            for name, content in (assets or {}).items()
        ],
    }


def tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz holding `members` in order, built with tarfile (as another tool might)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def manifest_bytes(data: dict[str, Any]) -> bytes:
    return Manifest.model_validate(data).model_dump_json().encode()


def test_write_streams_a_tar_gz_that_read_verifies(tmp_path: Path) -> None:
    one, two = b"first model" * 1000, b"second" * 50_000
    (tmp_path / "a").write_bytes(one)
    (tmp_path / "b").write_bytes(two)
    manifest = Manifest.model_validate(manifest_for({"a.joblib": one, "b.joblib": two}))
    blobs = [Blob(sha(one), tmp_path / "a", len(one)), Blob(sha(two), tmp_path / "b", len(two))]
    chunks = list(archive.write(manifest, blobs, mtime=dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()))
    assert len(chunks) > 2 and max(len(c) for c in chunks) < len(two)  # streamed, never the whole archive at once
    path = tmp_path / "space.tar.gz"
    path.write_bytes(b"".join(chunks))

    with tarfile.open(path) as tar:
        assert tar.getnames() == ["manifest.json", f"blobs/{sha(one)}", f"blobs/{sha(two)}"]
    (tmp_path / "out").mkdir()
    unpacked = archive.read(path, tmp_path / "out", limit=LIMIT)
    assert unpacked.manifest == manifest
    assert {d: p.read_bytes() for d, p in unpacked.blobs.items()} == {sha(one): one, sha(two): two}


@pytest.mark.parametrize(
    ("members", "field", "words"),
    [
        ({}, "archive", "no manifest.json"),
        ({"manifest.json": b"{nope"}, "manifest", "not valid JSON"),
        ({"manifest.json": b'{"format_version": 2}'}, "manifest.format_version", "unknown archive format version 2"),
        ({"manifest.json": b"[]"}, "manifest", "JSON object"),
    ],
)
def test_a_bad_manifest_is_named(tmp_path: Path, members: dict[str, bytes], field: str, words: str) -> None:
    with pytest.raises(BadArchive, match=words) as caught:
        archive.read(tar_gz(tmp_path / "a.tar.gz", members), tmp_path, limit=LIMIT)
    assert caught.value.field == field


def test_a_bad_field_is_named_by_its_path(tmp_path: Path) -> None:
    data = manifest_for({"../escape.pkl": b"x"})
    members = {"manifest.json": orjson.dumps(data), f"blobs/{sha(b'x')}": b"x"}
    with pytest.raises(BadArchive, match="plain file name") as caught:
        archive.read(tar_gz(tmp_path / "a.tar.gz", members), tmp_path, limit=LIMIT)
    assert caught.value.field == "manifest.models[0].versions[0].file_name"


def test_a_missing_or_corrupt_blob_names_the_item_using_it(tmp_path: Path) -> None:
    content = b"model bytes"
    manifest = manifest_bytes(manifest_for({"m.joblib": b"other", "n.joblib": content}))
    missing = tar_gz(tmp_path / "missing.tar.gz", {"manifest.json": manifest, f"blobs/{sha(b'other')}": b"other"})
    with pytest.raises(BadArchive, match="has no blobs/") as caught:
        archive.read(missing, tmp_path, limit=LIMIT)
    assert caught.value.field == "manifest.models[0].versions[1]"

    edited = {"manifest.json": manifest, f"blobs/{sha(b'other')}": b"other", f"blobs/{sha(content)}": b"model bytez"}
    with pytest.raises(BadArchive, match="does not match its sha256") as caught:
        archive.read(tar_gz(tmp_path / "corrupt.tar.gz", edited), tmp_path, limit=LIMIT)
    assert caught.value.field == "manifest.models[0].versions[1]"


def test_garbage_and_truncation_are_unreadable_archives(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"this is not a tar.gz" * 100)
    with pytest.raises(BadArchive, match="not a readable") as caught:
        archive.read(garbage, tmp_path, limit=LIMIT)
    assert caught.value.field == "archive"

    whole = tar_gz(tmp_path / "whole.tar.gz", {"manifest.json": manifest_bytes(manifest_for({}))})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:-30])
    with pytest.raises(BadArchive, match="not a readable"):
        archive.read(cut, tmp_path, limit=LIMIT)


def test_a_blob_over_the_limit_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    big = b"\0" * (LIMIT + 1)
    members = {"manifest.json": manifest_bytes(manifest_for({"big.joblib": big})), f"blobs/{sha(big)}": big}
    with pytest.raises(BadArchive, match="larger than the upload limit"):
        archive.read(tar_gz(tmp_path / "big.tar.gz", members), tmp_path, limit=LIMIT)
    assert not (tmp_path / sha(big)).exists()
