"""The project's structural rules (docs/architecture.md, Packages), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("robotwatch", "replay", "vision", "rwcore")
# What each package may import of the others: imports point one way.
ALLOWED = {
    "robotwatch": {"replay", "vision", "rwcore"},
    "replay": {"rwcore"},
    "vision": {"rwcore"},
    "rwcore": set(),
}
MAX_LINES = 400


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> dict[str, int]:
    """The project packages a module imports (at any depth in the file), with a line of each."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                found.setdefault(top, node.lineno)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {other}"
        for path in _modules(package)
        for other, line in imported_packages(path).items()
        if other != package and other not in ALLOWED[package]
    ]
    assert not broken, "\n".join(broken)


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from robotwatch.stream import verdicts\n")
    assert imported_packages(module) == {"robotwatch": 2}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_passes_the_size_limit(package: str) -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in _modules(package)
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, f"split these by idea (at most {MAX_LINES} lines each):\n" + "\n".join(long)
