"""Each method end to end through the CLI: simulate → train → evaluate (JSON and report) → score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from robotwatch.cli.main import app
from vision.model_file import read_meta
from vision.simulate import DEFECTS


@pytest.mark.parametrize("variant", ["csflow", "ast", "ast_depth", "differnet"])
def test_train_and_evaluate(variant: str, trained, evaluated) -> None:
    method = variant.split("_")[0]
    meta = read_meta(trained(variant))
    assert meta.config.method == method and meta.frame_size == (128, 128)
    if variant == "ast_depth":
        assert meta.config.use_depth and meta.config.foreground_mask
    assert meta.thresholds.n_normal == 4  # 15 % of the 24 normal training images, held out

    metrics, report = evaluated(variant)
    by_defect = metrics["auroc_by_defect"]
    assert set(by_defect) == set(DEFECTS)
    # A tiny model (128 px, a few epochs, 3 test images per defect) must at least find the
    # can without its label, and the flows must localize (chance is 0.5 for both).
    assert by_defect["missing_label"]["image_auroc"] >= 0.9, metrics
    if method == "differnet":
        # Gradient maps after 4 epochs at 128 px find large defects only; a map rotated back
        # the wrong way would miss even the missing label.
        assert by_defect["missing_label"]["pixel_auroc"] > 0.7, metrics
    else:
        assert metrics["pixel_auroc"] > 0.8, metrics
    if method == "csflow":
        assert metrics["image_auroc"] > 0.8, metrics
    for name in ("roc.png", "histogram.png"):
        assert Image.open(report / name).size[0] > 200
    overlays = list((report / "overlays").glob("*.png"))
    assert len(overlays) == 3 * len(DEFECTS) + 1  # three per defect type and the worst normal frame
    assert json.loads((report / "metrics.json").read_text())["image_auroc"] == metrics["image_auroc"]


def test_score_command_reports_each_frame(cli, trained, cell: Path, tmp_path: Path) -> None:
    frames = [cell / "test/good/000.png", cell / "test/wrong_label/000.png"]
    output = cli(
        "score",
        str(trained("csflow")),
        *map(str, frames),
        "--json",
        "--maps",
        str(tmp_path),
        "--device",
        "cpu",
    )
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [r["image"] for r in rows] == [str(f) for f in frames]
    assert rows[1]["score"] > rows[0]["score"]
    assert {"score", "threshold", "anomalous", "localization"} <= set(rows[0])
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["000_000_map.png", "001_000_map.png"]


def test_user_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["vision", "train", str(tmp_path), "--out", str(tmp_path / "m.safetensors")])
    assert (
        result.exit_code == 2 and "train/good: missing" in result.output and "Traceback" not in result.output
    )
    pickle_file = tmp_path / "model.pt"
    pickle_file.write_bytes(b"\x80\x04K\x01.")
    result = runner.invoke(app, ["vision", "evaluate", str(pickle_file), str(tmp_path)])
    assert result.exit_code == 2 and "refused because loading a pickle can execute code" in result.output
    result = runner.invoke(app, ["vision", "train", str(tmp_path), "--out", "m", "--image-size", "160"])
    assert (
        result.exit_code == 2
        and "invalid settings: image_size 160 must be a multiple of 128" in result.output
    )
    result = runner.invoke(app, ["vision", "train", str(tmp_path), "--out", "m", "--set", "hiden=3"])
    assert result.exit_code == 2 and "hiden: Extra inputs are not permitted" in result.output
