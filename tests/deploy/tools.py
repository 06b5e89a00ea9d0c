"""What the deploy tests share: where deploy/ is, and the system tools they run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A system tool the deploy checks need. Missing is a failure, not a skip: CI installs them
    (`make system-packages`), and a check that quietly does not run proves nothing."""
    path = shutil.which(name) or shutil.which(name, path=str(VENV_BIN))
    if path is None:
        pytest.fail(f"{name} is not installed (`make system-packages` or `pip install -e '.[test]'`)")
    return path
