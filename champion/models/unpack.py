"""Finding the model file inside an upload: a bare file, or a (gzip) tar holding one."""

from __future__ import annotations

import tarfile
from pathlib import Path

from champion.models.errors import NotAModel

# When an archive holds several files, the model is the first kind found in this order.
PREFERRED_SUFFIXES = (".onnx", ".joblib", ".pkl", ".pickle", ".ubj", ".json", ".txt", ".bst", ".model")


def model_file(upload: Path, workdir: Path, *, limit: int) -> Path:
    """The path of the model file: `upload` itself, or one member extracted into `workdir`."""
    if not tarfile.is_tarfile(upload):
        return upload
    try:
        with tarfile.open(upload) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and not Path(m.name).name.startswith(".")]
            if any(Path(m.name).name == "MLmodel" for m in members):
                raise NotAModel("MLflow model folders are not supported yet", field="content")
            member = _choose(members)
            if member.size > limit:
                raise NotAModel(f"{member.name} unpacks to more than the limit of {limit} bytes", field="content")
            # The "data" filter refuses absolute paths, links out of the folder and device files.
            archive.extract(member, workdir, filter="data")
    except tarfile.TarError as exc:
        raise NotAModel(f"the archive cannot be read: {exc}", field="content") from exc
    return workdir / member.name


def _choose(members: list[tarfile.TarInfo]) -> tarfile.TarInfo:
    if not members:
        raise NotAModel("the archive holds no file", field="content")
    if len(members) == 1:
        return members[0]
    for suffix in PREFERRED_SUFFIXES:
        for member in members:
            if member.name.lower().endswith(suffix):
                return member
    names = ", ".join(m.name for m in members[:5])
    raise NotAModel(f"the archive holds several files and none is a known model file: {names}", field="content")
