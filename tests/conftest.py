"""Shared fixtures: paths to the real voraus-AD excerpt and scratch space."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT.parent / "shared" / "data" / "voraus-ad-excerpt.parquet"


@pytest.fixture(scope="session")
def excerpt() -> Path:
    """The 398-row real voraus-AD excerpt (4 cycles at 100 Hz), kept outside the project."""
    if not EXCERPT.exists():
        pytest.skip(f"the real voraus-AD excerpt is not at {EXCERPT}")
    return EXCERPT
