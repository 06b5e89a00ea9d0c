"""Shared fixtures of the vision tests: a tiny synthetic cell dataset and one tiny trained
model per method, both made through the real CLI once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robotwatch.cli.main import app

SIZE = 128  # frames and model input; CS-Flow needs a multiple of 4 × 32
# Small but real: each method trains end to end and must beat chance by a wide margin.
TINY = {
    "csflow": ["--epochs", "8", "--set", "hidden=64", "--set", "batch_size=8"],
    "ast": [
        "--epochs",
        "8",
        "--set",
        "teacher_hidden=32",
        "--set",
        "student_hidden=64",
        "--set",
        "student_blocks=2",
    ],
    "differnet": [
        "--epochs",
        "4",
        "--set",
        "hidden=256",
        "--set",
        "train_transforms=2",
        "--set",
        "test_transforms=4",
        "--set",
        "batch_size=8",
    ],
}


def run_cli(*args: str) -> str:
    """stdout of `robotwatch vision ARGS…`, which must succeed."""
    result = CliRunner().invoke(app, ["vision", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(scope="session")
def cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 normal training frames, 8 normal and 3 of each defect type for testing, 128 px."""
    root = tmp_path_factory.mktemp("cell")
    run_cli(
        "simulate",
        "--out",
        str(root),
        "--images",
        "24",
        "--size",
        str(SIZE),
        "--test-per-defect",
        "3",
        "--seed",
        "3",
    )
    return root


@pytest.fixture(scope="session")
def trained(cell: Path, tmp_path_factory: pytest.TempPathFactory):
    """method → model file, trained by `robotwatch vision train` on the tiny cell dataset."""
    models: dict[str, Path] = {}

    def get(method: str) -> Path:
        if method not in models:
            path = tmp_path_factory.mktemp("models") / f"{method}.safetensors"
            run_cli(
                "train",
                str(cell),
                "--method",
                method,
                "--out",
                str(path),
                "--image-size",
                str(SIZE),
                "--device",
                "cpu",
                *TINY[method],
            )
            models[method] = path
        return models[method]

    return get


@pytest.fixture(scope="session")
def evaluated(cell: Path, trained, tmp_path_factory: pytest.TempPathFactory):
    """method → (metrics dict from `evaluate --json`, report folder)."""
    results: dict[str, tuple[dict, Path]] = {}

    def get(method: str) -> tuple[dict, Path]:
        if method not in results:
            report = tmp_path_factory.mktemp("report") / method
            output = run_cli(
                "evaluate",
                str(trained(method)),
                str(cell),
                "--json",
                "--report",
                str(report),
                "--device",
                "cpu",
            )
            results[method] = (json.loads(output), report)
        return results[method]

    return get
