"""The recommended preset's score: a short departure that the whole cycle's NLL drowns is
carried over the threshold by its worst stretch, a latent channel that is a little off all
cycle long by the channel parts; the thesis preset stays as it was, and a recommended model
file holds everything its score needs."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from replay import VorausFile
from robotwatch.cli.main import app
from robotwatch.mtsflow.model_file import load_model, save_model
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.mtsflow.recommended_score import (
    Evidence,
    calibrate_rule,
    evidence,
    evidence_from,
    local_onset,
    recommended_score,
)
from robotwatch.mtsflow.score import Localize, Scorer
from rwcore.model_file import ModelFileError

RATE = 50.0
STEPS = 500


def latent(n: int, rng: np.random.Generator, signals: int = 40) -> torch.Tensor:
    """z of normal cycles as a perfect flow gives them: independent unit normals."""
    return torch.from_numpy(rng.normal(0.0, 1.0, (n, signals, STEPS)))


def cycles_evidence(z: torch.Tensor, extra_nll: np.ndarray | float = 0.0) -> Evidence:
    """Evidence of whole cycles (no padding), n_t = 0.5 Σ_s z² along a level that varies
    along the cycle, plus `extra_nll` per step."""
    level = 10 * torch.sin(torch.linspace(0, 6, STEPS, dtype=torch.float64))
    step_nll = 0.5 * z.square().sum(1) + level + torch.as_tensor(extra_nll)
    return evidence_from(step_nll, z, torch.full((len(z),), STEPS))


def auroc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    return float(
        roc_auc_score(np.r_[np.zeros(len(normal)), np.ones(len(anomalous))], np.r_[normal, anomalous])
    )


def calibrated(rng: np.random.Generator) -> tuple[Evidence, ...]:
    train, calibration = cycles_evidence(latent(200, rng)), cycles_evidence(latent(40, rng))
    return Evidence.concatenate([train, calibration]), calibration


def test_a_short_bump_the_global_sum_drowns_is_found_by_the_stretch_part() -> None:
    rng = np.random.default_rng(0)
    normal, calibration = calibrated(rng)
    rule, stats = calibrate_rule(normal, calibration, RATE)
    bump = np.zeros(STEPS)
    bump[200:210] = 15.0  # 0.2 s at 50 Hz: 150 in a sum whose normal spread is ~140
    test, bumped = cycles_evidence(latent(60, rng)), cycles_evidence(latent(60, rng), bump)
    assert auroc(test.step_nll.sum(1), bumped.step_nll.sum(1)) < 0.85
    score = recommended_score(Evidence.concatenate([test, bumped]), rule, stats, RATE)
    assert auroc(score[:60], score[60:]) > 0.99


def test_a_latent_channel_a_little_off_all_cycle_long_is_found_by_the_channel_parts() -> None:
    rng = np.random.default_rng(1)
    normal, calibration = calibrated(rng)
    rule, stats = calibrate_rule(normal, calibration, RATE)
    test = cycles_evidence(latent(60, rng))
    for change in ("offset", "spread"):
        z = latent(60, rng)
        if change == "offset":
            z[:, 3] += 0.3  # 6.7 spreads of that channel's offset, 0.2 of the whole sum's
        else:
            z[:, 7] *= 1.2  # one channel 20 % noisier: 7 spreads of its energy, 1.1 of the whole sum's
        off = cycles_evidence(z)
        assert auroc(test.step_nll.sum(1), off.step_nll.sum(1)) < 0.85, change
        score = recommended_score(Evidence.concatenate([test, off]), rule, stats, RATE)
        assert auroc(score[:60], score[60:]) > 0.97, change


def test_a_handful_of_calibration_cycles_still_gives_parts_in_units_of_the_normal_spread() -> None:
    rng = np.random.default_rng(3)
    normal, _ = calibrated(rng)
    few = cycles_evidence(latent(2, rng))  # a small cell holds out two or three cycles
    rule, stats = calibrate_rule(Evidence.concatenate([normal, few]), few, RATE)
    fresh = recommended_score(cycles_evidence(latent(100, rng)), rule, stats, RATE)
    # the max of four parts of unit spread: about 1 above their centre, not tens
    assert np.percentile(fresh, 99) < 5


def test_the_channel_parts_count_only_the_cycles_own_steps() -> None:
    z = latent(2, np.random.default_rng(2))
    padded = z.clone()
    padded[:, :, 300:] = 50.0  # what the flow makes of the zero padding after a 300-step cycle
    lengths = torch.tensor([300, 300])
    ours = evidence_from(padded.square().sum(1), padded, lengths)
    short = evidence_from(z[:, :, :300].square().sum(1), z[:, :, :300], lengths)
    np.testing.assert_allclose(ours.channel_energy, short.channel_energy)
    np.testing.assert_allclose(ours.channel_offset, short.channel_offset)


def test_the_onset_is_where_the_departure_begins_not_where_it_peaks() -> None:
    rng = np.random.default_rng(1)
    rule, stats = calibrate_rule(*calibrated(rng), RATE)

    def onset(extra: np.ndarray, length: int = STEPS) -> int:
        return local_onset(cycles_evidence(latent(1, rng), extra).step_nll[0], stats, rule, RATE, length)

    lost = np.zeros(STEPS)
    # a can lost at step 200: the load changes at once, and the departure grows as the move goes on
    lost[200:] = 40.0 + np.linspace(0.0, 20.0, 300)
    assert abs(onset(lost) - 200) <= 5
    wrong = np.zeros(STEPS)
    # a pick at the wrong place: a moderate departure at the pick, the strongest on the way on
    wrong[100:130] = 20.0
    wrong[300:340] = 50.0
    assert abs(onset(wrong) - 100) <= 5
    for force in (50.0, 15.0):
        hit = np.zeros(STEPS)
        # a collision: short, strongest where it begins; a weak one barely above the normal
        # range, so that a fifth of its peak is in the noise that calibration cycles reach
        hit[320:330] = force
        assert abs(onset(hit) - 320) <= 5, force
    # only the cycle's own steps count: a departure in the padding after it is not an onset
    assert onset(hit, length=300) < 300


def test_step_nll_sums_to_the_thesis_score() -> None:
    torch.manual_seed(0)
    flow = MTSFlow(FlowConfig(n_signals=6, kernel_size=5)).eval()
    x = torch.randn(3, 6, 80)
    with torch.inference_mode():
        ev = evidence(flow, x, torch.tensor([80, 80, 80]))
        np.testing.assert_allclose(ev.step_nll.sum(1), flow.nll(x).double().numpy(), rtol=1e-5, atol=1e-3)
        assert ev.channel_energy.shape == ev.channel_offset.shape == (3, 6)


def first_test_cycles(path: Path, signals: list[str], n: int) -> list[np.ndarray]:
    """The file's first n test cycles at the models' 50 Hz."""
    return [c.signals for c in islice(VorausFile(path, signals=signals).cycles("test", divider=2), n)]


def test_the_recommended_preset_trains_the_thesis_flow_and_scores_it_locally(
    recommended_model: Path, tiny_model: Path, small_cell: Path
) -> None:
    recommended, thesis = load_model(recommended_model), load_model(tiny_model)
    assert (recommended.card.preset, thesis.card.preset) == ("recommended", "thesis")
    assert thesis.normal_stats is None and thesis.card.score_rule is None
    # the same flow (same seed and data): only the score differs
    for a, b in zip(recommended.flow.state_dict().values(), thesis.flow.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    cycles = first_test_cycles(small_cell, thesis.card.signals, 6)
    ours, whole = Scorer(recommended).score(cycles), Scorer(thesis).score(cycles)
    # float32 steps summed in another order: equal to the last bits of the larger terms
    ev = Scorer(recommended).evidence(cycles)
    np.testing.assert_allclose(ev.step_nll.sum(1), whole, rtol=1e-6, atol=1e-2)
    assert not np.allclose(ours, whole)
    assert Scorer(recommended).score([]).shape == (0,)
    # the first event of a localized cycle is its local onset; its signals still come from the gradient
    scorer = Scorer(recommended)
    results = scorer.score_cycles(cycles, localize=Localize.ALL)
    rule = recommended.card.score_rule
    assert recommended.normal_stats is not None and rule is not None
    for raw, nll, result in zip(cycles, ev.step_nll, results, strict=True):
        n = min(len(raw), recommended.card.padded_length)
        assert result.events[0].step == local_onset(nll, recommended.normal_stats, rule, 50.0, n)
        assert result.events[0].top_signals
    # the threshold is set on the recommended score: at most the target share of held-out cycles above it
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


def test_a_model_file_that_lost_its_statistics_is_refused(recommended_model: Path, tmp_path: Path) -> None:
    model = load_model(recommended_model)
    model.normal_stats = None  # the card still has a score rule
    broken = tmp_path / "broken.rwmodel"
    save_model(model, broken)
    with pytest.raises(ModelFileError, match="lacks the tensor"):
        load_model(broken)


def test_evaluate_scores_with_the_models_preset(recommended_model: Path, small_cell: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", str(recommended_model), str(small_cell), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "mean" in result.stdout


def test_a_model_of_the_first_recommended_preset_is_refused_with_what_to_do(
    recommended_model: Path, tmp_path: Path
) -> None:
    with safe_open(str(recommended_model), framework="pt") as f:
        metadata = f.metadata()
    card = json.loads(metadata["robotwatch"])
    card["local_rule"] = card.pop("score_rule")  # as the first recommended preset wrote it
    old = tmp_path / "old.rwmodel"
    save_file(
        load_file(str(recommended_model)), str(old), metadata={**metadata, "robotwatch": json.dumps(card)}
    )
    with pytest.raises(
        ModelFileError, match=r"first recommended preset.*train it again with --preset recommended"
    ):
        load_model(old)
