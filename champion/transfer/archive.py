"""The space archive on the wire: a gzip tar with `manifest.json` first and each artifact once under `blobs/`.

Format version 1::

    manifest.json          {"format_version": 1, "champion_version", "exported_at",
                            "space": {"id", "name"},
                            "models": [{"name", "description", "tags", "type", "software_spec_id",
                                        "software_spec_name", "label_column", "declared_input",
                                        "custom", "versions": [{"number", "sha256", "file_name",
                                                                "framework", "size",
                                                                "runtime_parameters",
                                                                "signature", "metadata"}, ...]}],
                            "deployments": [{"name", "description", "tags", "custom", "kind",
                                             "serving_name", "hardware_spec",
                                             "model": {"index", "name", "rev"},
                                             "settings", "runtime_parameter_values"}],
                            "data_assets": [{"name", "description", "mime_type", "file_name",
                                             "sha256", "size"}]}
    blobs/<sha256>         one regular file per distinct digest: a model file or a data asset's content

A deployment names the model it serves by position in `models` (`index`, with `name` for readers)
and by the revision number it had in the source space (`rev`). A revision's `runtime_parameters` are the
definitions it declares (`[]` for none) and its `signature` its stored signature (input features by name
and type, target, `named`), its `metadata` the snapshot it was made with (`name`, `description`, `tags`,
`software_spec_id`, `software_spec_name`, `custom`), a deployment's `settings` its whole settings document and
`runtime_parameter_values` the values its champion runs with, by name. Archives written before these
keys existed lack them and import with defaults (no definitions, what the file alone reports, every
setting off, the declared default values, the model's metadata for every revision), so they are still
format 1: a reader tells them apart by the keys' absence alone.
`champion.transfer.manifest.Manifest` is the schema. Writing streams each blob from the store through the
compressor, so an export never holds an artifact in memory; reading makes one pass and checks every
blob's digest as it lands on disk.
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from champion.transfer import manifest as manifests
from champion.transfer.errors import BadArchive
from champion.transfer.manifest import Manifest

MANIFEST_NAME = "manifest.json"
BLOB_FOLDER = "blobs/"
MANIFEST_LIMIT = 16 * 1024**2
"""A manifest is names and numbers; one this large is not a space export."""
UNPACK_RATIO = 10
"""All blobs together may unpack to this many times the upload limit: a gzip bomb stops there."""
CHUNK = 1 << 20
BLOCK = tarfile.BLOCKSIZE


@dataclass(frozen=True)
class Blob:
    """An artifact to write: its digest (the member's name), where it is, and how large."""

    sha256: str
    path: Path
    size: int


@dataclass(frozen=True)
class Unpacked:
    """A read archive: its manifest and each blob it names, verified, as a file under the work folder."""

    manifest: Manifest
    blobs: dict[str, Path]


def write(manifest: Manifest, blobs: Iterable[Blob], *, mtime: float) -> Iterator[bytes]:
    """The archive as compressed chunks, written member by member.

    The tar headers are made by `tarfile` but the stream is assembled here, because
    `tarfile.addfile` copies a whole member into its file object before returning: a
    generator behind it would hold a whole model in memory.
    """
    gzip = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    body = manifest.model_dump_json(indent=2).encode()
    yield gzip.compress(_header(MANIFEST_NAME, len(body), mtime) + body + _padding(len(body)))
    for blob in blobs:
        yield gzip.compress(_header(BLOB_FOLDER + blob.sha256, blob.size, mtime))
        written = 0
        with blob.path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                written += len(chunk)
                if out := gzip.compress(chunk):
                    yield out
        if written != blob.size:
            # Blobs never change once kept; a different size means the store is damaged.
            raise OSError(f"blob {blob.sha256} is {written} bytes, not {blob.size}")
        yield gzip.compress(_padding(blob.size))
    yield gzip.compress(b"\0" * 2 * BLOCK) + gzip.flush()


def _header(name: str, size: int, mtime: float) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def read(archive: Path, workdir: Path, *, limit: int) -> Unpacked:
    """Unpack `archive` into `workdir` in one pass: BadArchive naming the problem, or every named blob verified.

    Only regular files named `manifest.json` and `blobs/<sha256>` are read; anything else is
    skipped, and blobs are written under names made here, so no member chooses a path.
    """
    parsed: Manifest | None = None
    named: set[str] = set()
    found: dict[str, Path] = {}
    corrupt: set[str] = set()
    unpacked = 0
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                if member.name.removeprefix("./") == MANIFEST_NAME and parsed is None:
                    parsed = _read_manifest(source, member.size)
                    named = set(parsed.blob_users())
                    continue
                digest = _blob_digest(member.name)
                if digest is None or digest in found:
                    continue
                if parsed is not None and digest not in named:
                    continue  # the manifest came first and does not name it: no need to unpack it
                if member.size > limit:
                    raise BadArchive(f"{member.name} is larger than the upload limit of {limit} bytes", field="archive")
                unpacked += member.size
                if unpacked > UNPACK_RATIO * limit:
                    raise BadArchive(f"the archive unpacks to more than {UNPACK_RATIO * limit} bytes", field="archive")
                target = workdir / digest
                if _copy_hashing(source, target) == digest:
                    found[digest] = target
                else:
                    corrupt.add(digest)
                    target.unlink(missing_ok=True)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BadArchive(f"not a readable .tar.gz archive: {exc}", field="archive") from None
    if parsed is None:
        raise BadArchive(f"the archive holds no {MANIFEST_NAME}", field="archive")
    for digest, user in parsed.blob_users().items():
        if digest in found:
            continue
        if digest in corrupt:
            raise BadArchive(f"{BLOB_FOLDER}{digest} does not match its sha256: the archive is corrupt", field=user)
        raise BadArchive(f"the archive has no {BLOB_FOLDER}{digest}", field=user)
    return Unpacked(parsed, {digest: found[digest] for digest in parsed.blob_users()})


def _read_manifest(source: IO[bytes], size: int) -> Manifest:
    if size > MANIFEST_LIMIT:
        raise BadArchive(f"{MANIFEST_NAME} is larger than {MANIFEST_LIMIT} bytes", field="manifest")
    try:
        data = orjson.loads(source.read())
    except orjson.JSONDecodeError as exc:
        raise BadArchive(f"{MANIFEST_NAME} is not valid JSON: {exc}", field="manifest") from None
    return manifests.parse(data)


def _blob_digest(name: str) -> str | None:
    name = name.removeprefix("./")
    if not name.startswith(BLOB_FOLDER):
        return None
    digest = name[len(BLOB_FOLDER) :]
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def _copy_hashing(source: IO[bytes], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
