"""Imports point down: domains and the engine know nothing of the web, faces not of each other."""

import ast
from pathlib import Path

import champion

ROOT = Path(champion.__file__).parent
DOMAINS = (
    "users",
    "spaces",
    "models",
    "deployments",
    "operations",
    "replacement",
    "jobs",
    "transfer",
    "cluster",
    "runtimes",
    "artifacts",
    "serving",
    "monitoring",
    "challengers",
    "meters",
)
BASE = ("config.py", "db.py", "dbclock.py", "errors.py", "auth.py", "patch.py", "changes.py")
WEB = ("fastapi", "starlette", "champion.api", "champion.cli", "champion.app", "champion.ui")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in paths:
        for name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_domains_and_base_do_not_import_the_web() -> None:
    paths = [p for d in DOMAINS for p in (ROOT / d).rglob("*.py")] + [ROOT / b for b in BASE]
    assert offenders(paths, WEB) == []


def test_base_does_not_import_domains() -> None:
    paths = [ROOT / b for b in BASE]
    assert offenders(paths, tuple(f"champion.{d}" for d in DOMAINS)) == []


def test_faces_do_not_import_each_other() -> None:
    faces = [p for p in (ROOT / "api").iterdir() if p.is_dir() and not p.name.startswith("_")]
    for face in faces:
        others = tuple(f"champion.api.{o.name}" for o in faces if o != face)
        assert offenders(list(face.rglob("*.py")), others) == []


def test_faces_run_no_queries() -> None:
    # A face parses, calls a service and renders; queries belong to the domain.
    for path in [*(ROOT / "api").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]:
        sqlalchemy = {n for n in imports(path) if n.startswith("sqlalchemy")}
        assert sqlalchemy <= {"sqlalchemy.orm"}, path
        assert "select(" not in path.read_text(), path


def test_the_ui_and_the_api_faces_do_not_import_each_other() -> None:
    # The UI may use the shared dependencies (api/deps.py) and status map (api/status.py), never a vendor face.
    vendor_faces = tuple(f"champion.api.{p.name}" for p in (ROOT / "api").iterdir() if p.is_dir())
    assert offenders(list((ROOT / "ui").rglob("*.py")), vendor_faces) == []
    assert offenders(list((ROOT / "api").rglob("*.py")), ("champion.ui",)) == []
