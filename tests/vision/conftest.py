"""Shared fixtures of the vision tests: a tiny synthetic cell dataset and one tiny trained
model per method, both made through the real CLI once per session."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from robotwatch.cli.main import app

SIZE = 128  # frames and model input; CS-Flow needs a multiple of 4 × 32
# Small but real: each method trains end to end and must beat chance by a wide margin.
_AST = "--method ast --epochs 8 --set teacher_hidden=32 --set student_hidden=64 --set student_blocks=2"
TINY = {
    "csflow": "--method csflow --epochs 8 --set hidden=64 --set batch_size=8",
    "ast": _AST,
    # AST on the depth maps the synthetic camera writes: depth input and foreground mask
    "ast_depth": f"{_AST} --set use_depth=true --set foreground_mask=true",
    "differnet": "--method differnet --epochs 4 --set hidden=256 --set train_transforms=2 "
    "--set test_transforms=4 --set batch_size=8",
}


def run_cli(*args: str) -> str:
    """stdout of `robotwatch vision ARGS…`, which must succeed."""
    result = CliRunner().invoke(app, ["vision", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models are many small ops: one thread is as fast, and on a busy 2-core machine
    two threads wait on each other's barriers (10-50× slower when another job runs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 normal training frames, 6 normal and 3 of each defect type for testing, 128 px."""
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
    """variant → model file, trained by `robotwatch vision train` on the tiny cell dataset."""
    models: dict[str, Path] = {}

    def get(variant: str) -> Path:
        if variant not in models:
            path = tmp_path_factory.mktemp("models") / f"{variant}.safetensors"
            args = ["train", str(cell), "--out", str(path), "--image-size", str(SIZE), "--device", "cpu"]
            run_cli(*args, *shlex.split(TINY[variant]))
            models[variant] = path
        return models[variant]

    return get


@pytest.fixture(scope="session")
def evaluated(cell: Path, trained, tmp_path_factory: pytest.TempPathFactory):
    """variant → (metrics dict from `evaluate --json`, report folder)."""
    results: dict[str, tuple[dict, Path]] = {}

    def get(variant: str) -> tuple[dict, Path]:
        if variant not in results:
            report = tmp_path_factory.mktemp("report") / variant
            args = [
                "evaluate",
                str(trained(variant)),
                str(cell),
                "--json",
                "--report",
                str(report),
                "--device",
                "cpu",
            ]
            results[variant] = (json.loads(run_cli(*args)), report)
        return results[variant]

    return get
