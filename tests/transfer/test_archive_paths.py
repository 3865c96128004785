"""An import archive's member names never choose where a blob lands: only `blobs/<sha256>` is read,
into a file the reader names itself, so an absolute or climbing name is as good as absent."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from champion.transfer import archive
from champion.transfer.errors import BadArchive
from tests.transfer.test_archive import LIMIT, manifest_bytes, manifest_for, sha


@pytest.mark.parametrize("form", ["absolute", "climbing", "climbing inside blobs/", "link"])
def test_blob_members_named_outside_the_folder_are_not_written_there(tmp_path: Path, form: str) -> None:
    content = b"model bytes"
    digest = sha(content)
    victim = tmp_path / "server" / "blobs" / digest  # a server file of the very name the blob has
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"the server's own")
    out = tmp_path / "work" / "out"
    out.mkdir(parents=True)
    path = tmp_path / "space.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        body = manifest_bytes(manifest_for({"m.joblib": content}))
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        name = {
            "absolute": str(victim),
            "climbing": f"../../server/blobs/{digest}",
            "climbing inside blobs/": f"blobs/../../../server/blobs/{digest}",
            "link": f"blobs/{digest}",
        }[form]
        info = tarfile.TarInfo(name)
        if form == "link":
            info.type, info.linkname = tarfile.SYMTYPE, str(victim)
            tar.addfile(info)
        else:
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    with pytest.raises(BadArchive, match=f"has no blobs/{digest}"):
        archive.read(path, out, limit=LIMIT)
    assert victim.read_bytes() == b"the server's own"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted([digest, "space.tar.gz"])
