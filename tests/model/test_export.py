"""The ONNX scoring graph gives what torch gives, on a simulated cell's real cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch
from typer.testing import CliRunner

from robotwatch.cli.main import app
from robotwatch.mtsflow.data import iter_cycles, pad_batch
from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.recommended_score import evidence_from, recommended_score
from robotwatch.mtsflow.score import Scorer


def test_onnxruntime_scores_the_cycles_as_torch_does(
    tiny_model: Path, small_cell: Path, tmp_path: Path
) -> None:
    out = tmp_path / "graphs" / "tiny.onnx"
    run = CliRunner().invoke(app, ["export", str(tiny_model), "--onnx", str(out)])
    assert run.exit_code == 0, run.output
    model = load_model(tiny_model)
    card = model.card
    raw = [c.signals for c in iter_cycles(small_cell, card.signals, card.sample_rate_hz, "test")]
    torch_scores = Scorer(model, device="cpu").score(raw)

    x, _, _ = pad_batch([model.normalizer.transform(c) for c in raw], card.padded_length)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    scores, step_nll, _ = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(scores, torch_scores, rtol=1e-4)
    np.testing.assert_allclose(step_nll.sum(1), scores, rtol=1e-5)
    assert step_nll.shape == (len(raw), card.padded_length)
    # the threshold means the same on both sides
    assert ((scores > card.threshold) == (torch_scores > card.threshold)).all()


def test_a_recommended_models_score_comes_from_the_graphs_outputs(
    recommended_model: Path, small_cell: Path, tmp_path: Path
) -> None:
    out = tmp_path / "recommended.onnx"
    run = CliRunner().invoke(app, ["export", str(recommended_model), "--onnx", str(out)])
    assert run.exit_code == 0, run.output
    assert "alarms on the recommended score" in run.output
    model = load_model(recommended_model)
    card = model.card
    assert card.score_rule is not None and model.normal_stats is not None
    raw = [c.signals for c in iter_cycles(small_cell, card.signals, card.sample_rate_hz, "test")]
    x, lengths, _ = pad_batch([model.normalizer.transform(c) for c in raw], card.padded_length)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    _, step_nll, z = session.run(None, {"x": x.numpy()})
    ev = evidence_from(torch.from_numpy(step_nll), torch.from_numpy(z), lengths)
    scores = recommended_score(ev, card.score_rule, model.normal_stats, card.sample_rate_hz)
    torch_scores = Scorer(model, device="cpu").score(raw)
    # standardized scores near zero: compare on the scale of their spread
    np.testing.assert_allclose(scores, torch_scores, rtol=1e-4, atol=1e-3)
    assert ((scores > card.threshold) == (torch_scores > card.threshold)).all()


def test_a_missing_model_is_one_line(tmp_path: Path) -> None:
    run = CliRunner().invoke(
        app, ["export", str(tmp_path / "none.rwmodel"), "--onnx", str(tmp_path / "x.onnx")]
    )
    assert run.exit_code == 2 and "no such model file" in run.output
    assert not (tmp_path / "x.onnx").exists()
