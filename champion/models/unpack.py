"""Finding the model file inside an upload: a bare file, a (gzip) tar holding one, or a tarred MLflow model folder."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from champion.models import mlflow
from champion.models.errors import NotAModel
from champion.models.mlflow import LoggedModel

# When an archive holds several files, the model is the first kind found in this order.
PREFERRED_SUFFIXES = (".onnx", ".joblib", ".pkl", ".pickle", ".ubj", ".json", ".txt", ".bst", ".model")


def model_file(upload: Path, workdir: Path, *, limit: int) -> Path | LoggedModel:
    """The model file: `upload` itself, one member extracted into `workdir`, or an MLflow folder's flavor file.

    An archive with an `MLmodel` file (at its root or in one top-level folder) is an MLflow model
    folder: the folder is extracted, its MLmodel read, and the flavor champion serves returned with
    the signature it was logged with. `limit` bounds what is unpacked, in total.
    """
    if not tarfile.is_tarfile(upload):
        return upload
    try:
        with tarfile.open(upload) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and not Path(m.name).name.startswith(".")]
            root = _mlflow_root(members)
            if root is not None:
                return _extract_mlflow(archive, members, root, workdir, limit=limit)
            member = _choose(members)
            if member.size > limit:
                raise NotAModel(f"{member.name} unpacks to more than the limit of {limit} bytes", field="content")
            path = destination(member, workdir)
            # The "data" filter also refuses links and device files; only regular files are chosen anyway.
            archive.extract(member, workdir, filter="data")
    except tarfile.TarError as exc:
        raise NotAModel(f"the archive cannot be read: {exc}", field="content") from exc
    return path


def destination(member: tarfile.TarInfo, workdir: Path) -> Path:
    """Where `member` is written under `workdir`: every path taken from an archive goes through here.

    A name that is absolute, or climbs out with `..`, is refused naming the member. tarfile's "data"
    filter would write `/srv/x` as `srv/x`, yet `workdir / "/srv/x"` is `/srv/x` itself: a path made
    from the name alone would read, move or delete a file of the server's own. The message names
    the member as the archive spells it, and never the server's folders.
    """
    root = workdir.resolve()
    name = PurePosixPath(member.name)
    path = root.joinpath(name).resolve()
    if name.is_absolute() or path == root or not path.is_relative_to(root):
        raise NotAModel(
            f"the archive member {member.name} points outside the archive: member names must be relative paths "
            "inside it",
            field="content",
        )
    return path


def _parts(member: tarfile.TarInfo) -> tuple[str, ...]:
    """A member's path without `.` and empty parts (`./model/MLmodel` is `model/MLmodel`); `..` stays."""
    return tuple(part for part in PurePosixPath(member.name).parts if part not in ("", ".", "/"))


def _mlflow_root(members: list[tarfile.TarInfo]) -> tuple[str, ...] | None:
    """The folder holding `MLmodel`: () for the archive's root, (name,) for one top-level folder; None if none."""
    roots = [_parts(m)[:-1] for m in members if _parts(m)[-1:] == ("MLmodel",)]
    if not roots:
        return None
    if len(roots) > 1:
        raise NotAModel("the archive holds several MLmodel files: upload one MLflow model at a time", field="content")
    if len(roots[0]) > 1:
        where = "/".join(roots[0])
        raise NotAModel(
            f"the MLmodel file is in {where}/: an MLflow model folder must be the archive's root or one folder in it",
            field="content",
        )
    return roots[0]


def _extract_mlflow(
    archive: tarfile.TarFile, members: list[tarfile.TarInfo], root: tuple[str, ...], workdir: Path, *, limit: int
) -> LoggedModel:
    inside = [m for m in members if _parts(m)[: len(root)] == root]
    total = sum(m.size for m in inside)
    if total > limit:
        raise NotAModel(f"the MLflow model folder unpacks to more than the limit of {limit} bytes", field="content")
    for member in inside:
        destination(member, workdir)
    # The "data" filter also refuses links and device files; only regular files are listed anyway.
    archive.extractall(workdir, members=inside, filter="data")
    # mlflow.read holds every file MLmodel names inside this folder in turn.
    return mlflow.read(workdir.joinpath(*root))


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
