"""The recommended preset's local score: a short departure that the whole cycle's NLL drowns
is carried over the threshold by its worst stretch, the thesis preset stays as it was, and a
recommended model file holds everything its score needs."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from replay import VorausFile
from robotwatch.cli.main import app
from robotwatch.mtsflow.local_score import (
    calibrate_rule,
    local_onset,
    local_score,
    step_nll,
    step_statistics,
)
from robotwatch.mtsflow.model_file import load_model, save_model
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.mtsflow.score import Localize, Scorer
from rwcore.model_file import ModelFileError
from tests.conftest import TINY_TRAINING

RATE = 50.0


def normal_nll(n: int, rng: np.random.Generator, steps: int = 500) -> np.ndarray:
    """Per-step NLL of normal cycles: a level that varies along the cycle, and noise."""
    return 20 + 10 * np.sin(np.linspace(0, 6, steps)) + rng.normal(0, 2.0, (n, steps))


def test_a_short_bump_the_global_sum_drowns_is_found_by_the_local_part() -> None:
    rng = np.random.default_rng(0)
    normal, calibration, test = normal_nll(200, rng), normal_nll(40, rng), normal_nll(60, rng)
    bumped = test.copy()
    bumped[:, 200:210] += 5.0  # 0.2 s at 50 Hz: 50 in a sum whose normal spread is ~45
    rule, mean, scale = calibrate_rule(np.concatenate([normal, calibration]), calibration, RATE)
    labels = np.r_[np.zeros(60), np.ones(60)]

    def auroc(scores: np.ndarray) -> float:
        return float(roc_auc_score(labels, scores))

    both = np.concatenate([test, bumped])
    assert auroc(both.sum(1)) < 0.85
    assert auroc(local_score(both, rule, mean, scale, RATE)) > 0.99
    # a small shift of the whole cycle is the global part's: the local score keeps it
    shifted = np.concatenate([test, test + 0.3])
    assert auroc(shifted.sum(1)) > 0.99 and auroc(local_score(shifted, rule, mean, scale, RATE)) > 0.97


def test_the_onset_is_where_the_strongest_departure_begins_not_where_it_peaks() -> None:
    rng = np.random.default_rng(1)
    normal = normal_nll(100, rng)
    mean, scale = step_statistics(normal, RATE)
    lost = normal_nll(1, rng)[0]
    # a can lost at step 200: the load changes at once, and the departure grows as the move goes on
    lost[200:] += 20.0 + np.linspace(0.0, 10.0, 300)
    assert abs(local_onset(lost, mean, scale, RATE, 500) - 200) <= 5
    hit = normal_nll(1, rng)[0]
    hit[320:330] += 25.0  # a collision: short, and strongest where it begins
    assert abs(local_onset(hit, mean, scale, RATE, 500) - 320) <= 5
    # only the cycle's own steps count: a departure in the padding after it is not an onset
    assert local_onset(hit, mean, scale, RATE, 300) < 300


def test_step_nll_sums_to_the_thesis_score() -> None:
    torch.manual_seed(0)
    flow = MTSFlow(FlowConfig(n_signals=6, kernel_size=5)).eval()
    x = torch.randn(3, 6, 80)
    with torch.inference_mode():
        torch.testing.assert_close(step_nll(flow, x).sum(1), flow.nll(x), rtol=1e-5, atol=1e-3)


def first_test_cycles(path: Path, signals: list[str], n: int) -> list[np.ndarray]:
    """The file's first n test cycles at the models' 50 Hz."""
    return [c.signals for c in islice(VorausFile(path, signals=signals).cycles("test", divider=2), n)]


@pytest.fixture(scope="module")
def recommended_model(small_cell: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recommended") / "tiny.rwmodel"
    result = CliRunner().invoke(
        app, ["train", str(small_cell), "--out", str(out), *TINY_TRAINING, "--preset", "recommended"]
    )
    assert result.exit_code == 0, result.output
    assert "(recommended preset)" in result.output
    return out


def test_the_recommended_preset_trains_the_thesis_flow_and_scores_it_locally(
    recommended_model: Path, tiny_model: Path, small_cell: Path
) -> None:
    recommended, thesis = load_model(recommended_model), load_model(tiny_model)
    assert (recommended.card.preset, thesis.card.preset) == ("recommended", "thesis")
    assert thesis.step_stats is None and thesis.card.local_rule is None
    # the same flow (same seed and data): only the score differs
    for a, b in zip(recommended.flow.state_dict().values(), thesis.flow.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    cycles = first_test_cycles(small_cell, thesis.card.signals, 6)
    local, whole = Scorer(recommended).score(cycles), Scorer(thesis).score(cycles)
    # float32 steps summed in another order: equal to the last bits of the larger terms
    np.testing.assert_allclose(Scorer(recommended).step_nll(cycles).sum(1), whole, rtol=1e-6, atol=1e-2)
    assert not np.allclose(local, whole)
    # the first event of a localized cycle is its local onset; its signals still come from the gradient
    scorer = Scorer(recommended)
    results = scorer.score_cycles(cycles, localize=Localize.ALL)
    for raw, nll, result in zip(cycles, scorer.step_nll(cycles), results, strict=True):
        n = min(len(raw), recommended.card.padded_length)
        assert result.events[0].step == local_onset(nll, *recommended.step_stats, 50.0, n)
        assert result.events[0].top_signals
    # the threshold is set on the local score: at most the target share of held-out cycles above it
    cal = np.array(recommended.card.calibration_scores)
    assert (cal > recommended.card.threshold).mean() <= max(recommended.card.target_fpr, 1 / len(cal))


def test_a_recommended_model_file_scores_the_same_after_loading(
    recommended_model: Path, small_cell: Path, tmp_path: Path
) -> None:
    model = load_model(recommended_model)
    again = tmp_path / "again.rwmodel"
    assert save_model(model, again) == model.model_id
    cycles = first_test_cycles(small_cell, model.card.signals, 4)
    np.testing.assert_array_equal(Scorer(load_model(again)).score(cycles), Scorer(model).score(cycles))


def test_a_model_file_that_lost_its_local_tensors_is_refused(recommended_model: Path, tmp_path: Path) -> None:
    model = load_model(recommended_model)
    model.step_stats = None  # the card still names a local rule
    broken = tmp_path / "broken.rwmodel"
    save_model(model, broken)
    with pytest.raises(ModelFileError, match="lacks the tensor"):
        load_model(broken)


def test_evaluate_scores_with_the_models_preset(recommended_model: Path, small_cell: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", str(recommended_model), str(small_cell), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "mean" in result.stdout
