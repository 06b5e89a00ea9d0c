"""Shared fixtures: paths to the real voraus-AD excerpt and scratch space."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Kept beside the project, not in it (its licence: ../shared/data/README.md); a checkout
# elsewhere points at it with ROBOTWATCH_EXCERPT.
EXCERPT = Path(
    os.environ.get("ROBOTWATCH_EXCERPT", ROOT.parent / "shared" / "data" / "voraus-ad-excerpt.parquet")
)


@pytest.fixture(scope="session")
def excerpt() -> Path:
    """The 398-row real voraus-AD excerpt (4 cycles at 100 Hz), kept outside the project."""
    if not EXCERPT.exists():
        pytest.skip(f"the real voraus-AD excerpt is not at {EXCERPT} (set ROBOTWATCH_EXCERPT)")
    return EXCERPT


@pytest.fixture(scope="session")
def small_cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated cell of 60 cycles at 100 Hz: ~27 training normals, ~12 normal test
    cycles and every anomaly category, with its ground-truth sidecar."""
    from replay.simulator import load_profile, write_dataset

    path = tmp_path_factory.mktemp("cell") / "small.parquet"
    write_dataset(path, load_profile("default"), n_cycles=60, rate=100, seed=3)
    return path


# The tiny model's training options: a test that trains again with them must get the same model.
TINY_TRAINING = ("--epochs", "2", "--batch-size", "8", "--rate", "50", "--device", "cpu", "--seed", "5")


@pytest.fixture(scope="session")
def tiny_model(small_cell: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MTS-Flow trained for two epochs at 50 Hz on the small cell, thesis preset (its score is
    the flow's NLL, which the tests compare to the flow itself): enough to exercise every
    path, not to detect well."""
    from typer.testing import CliRunner

    from robotwatch.cli.main import app

    out = tmp_path_factory.mktemp("model") / "tiny.rwmodel"
    result = CliRunner().invoke(
        app,
        ["train", str(small_cell), "--out", str(out), *TINY_TRAINING, "--preset", "thesis"],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def recommended_model(small_cell: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny_model's flow (same data and seed) with the default preset: the recommended one."""
    from typer.testing import CliRunner

    from robotwatch.cli.main import app

    out = tmp_path_factory.mktemp("recommended") / "tiny.rwmodel"
    result = CliRunner().invoke(app, ["train", str(small_cell), "--out", str(out), *TINY_TRAINING])
    assert result.exit_code == 0, result.output
    assert "(recommended preset)" in result.output
    return out
