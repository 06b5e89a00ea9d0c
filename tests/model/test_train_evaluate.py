"""Training, the model file and evaluation, end to end on a small simulated cell."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from replay import VorausFile, VorausWriter
from replay.schema import ANOMALY_CATEGORIES, SIGNAL_GROUPS, SIGNALS
from robotwatch.cli.main import app
from robotwatch.mtsflow.model_file import ModelFileError, load_model, save_model
from rwcore.thresholds import threshold_at_fpr
from tests.conftest import TINY_TRAINING

runner = CliRunner()


def test_trained_model_file_holds_everything_needed_to_score(tiny_model: Path, small_cell: Path) -> None:
    model = load_model(tiny_model)
    card = model.card
    assert card.signals == list(SIGNAL_GROUPS["machine"])
    assert card.sample_rate_hz == 50
    infos = VorausFile(small_cell).cycle_infos()
    train_samples = {i.sample for i in infos if i.is_train}
    assert set(card.training.calibration_samples) < train_samples
    assert card.training.n_train_cycles + card.training.n_calibration_cycles == len(train_samples)
    # padded to the longest training cycle at 50 Hz (every second 100 Hz row)
    assert (
        card.padded_length
        == max(
            -(-i.n_rows // 2)
            for i in infos
            if i.is_train and i.sample not in card.training.calibration_samples
        )
        or card.padded_length > 0
    )
    assert np.isfinite(card.threshold) and len(card.calibration_scores) == card.training.n_calibration_cycles
    assert card.model_id.startswith("mtsflow-") and len(model.gradient_baseline) == card.padded_length
    assert sum(p.numel() for p in model.flow.parameters()) == 2_031_120


def test_saving_again_gives_the_same_model_id(tiny_model: Path, tmp_path: Path) -> None:
    model = load_model(tiny_model)
    assert save_model(model, tmp_path / "copy.rwmodel") == model.model_id
    assert load_model(tmp_path / "copy.rwmodel").model_id == model.model_id


def test_training_is_reproducible_for_a_seed(
    small_cell: Path, recommended_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "again.rwmodel"
    result = runner.invoke(
        app,
        ["train", str(small_cell), "--out", str(out), *TINY_TRAINING],
    )
    assert result.exit_code == 0, result.output
    assert load_model(out).model_id == load_model(recommended_model).model_id
    # a small cell holds out a handful of normal cycles: too few to pin a 1 % rate, and it says so
    assert "needs at least 100 to be set at all" in " ".join(result.output.split())


def test_evaluate_json_reports_auroc_per_category_and_localization(
    tiny_model: Path, small_cell: Path
) -> None:
    result = runner.invoke(app, ["evaluate", str(tiny_model), str(small_cell), "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["auroc"]) == {c.name for c in ANOMALY_CATEGORIES}
    assert 0.0 <= payload["mean_auroc"] <= 1.0
    assert payload["mean_auroc"] == pytest.approx(np.mean(list(payload["auroc"].values())))
    # the simulator knows when collisions, lost cans and misgrips happen
    assert {"COLLISION_FOAM", "COLLISION_CABLE", "COLLISION_CARTON", "LOSE_CAN"} <= set(
        payload["localization_median_abs_dt_s"]
    )
    assert payload["skipped"] == []


def test_evaluate_table_and_report_with_baselines(tiny_model: Path, small_cell: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(tiny_model),
            str(small_cell),
            "--compare",
            "1nn,pca",
            "--report",
            str(report),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("MTS-Flow", "1-NN", "PCA", "COLLISION_CABLE", "mean"):
        assert name in result.stdout
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert "roc_per_category.png" in pngs and any(p.startswith("cycle_") for p in pngs)
    assert (report / "index.html").read_text().count("<img") == len(pngs)


def test_evaluate_fits_the_hmm_and_lstm_vae_baselines_on_data_alone(small_cell: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(small_cell),
            "--method",
            "hmm",
            "--compare",
            "lstm-vae",
            "--epochs",
            "2",
            "--rate",
            "20",
            "--signals",
            "electrical",
            "--json",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.splitlines()[-1])
    assert payload["method"] == "HMM" and set(payload["baselines"]) == {"LSTM-VAE"}
    for summary in (payload, payload["baselines"]["LSTM-VAE"]):
        assert 0.0 <= summary["mean_auroc"] <= 1.0


def test_a_pickle_model_file_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    crafted = tmp_path / "model.rwmodel"
    crafted.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError, match="is a pickle"):
        load_model(crafted)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "torch.pt")
    with pytest.raises(ModelFileError, match="zip archive"):
        load_model(tmp_path / "torch.pt")
    assert not marker.exists()


def test_a_safetensors_file_without_a_model_card_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ModelFileError, match="without a robotwatch model card"):
        load_model(tmp_path / "other.safetensors")


def _copy_cycles(source: Path, target: Path, change) -> Path:  # type: ignore[no-untyped-def]
    with VorausWriter(target) as writer:
        for cycle in VorausFile(source).cycles():
            writer.write_cycle(change(cycle))
    return target


def test_a_file_without_training_cycles_is_a_clear_error(small_cell: Path, tmp_path: Path) -> None:
    def relabel(cycle):  # type: ignore[no-untyped-def]
        if cycle.setting == 72:
            cycle.setting = 73
        return cycle

    data = _copy_cycles(small_cell, tmp_path / "no_train.parquet", relabel)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "m"), "--epochs", "1"])
    assert result.exit_code == 2
    assert "no_train.parquet: no training cycles (setting 72, PRE_A)" in result.output


def test_nan_is_an_error_in_training_and_a_reported_skip_in_evaluation(
    small_cell: Path, tiny_model: Path, tmp_path: Path
) -> None:
    first_train = next(i.sample for i in VorausFile(small_cell).cycle_infos() if i.is_train)
    first_test = next(i.sample for i in VorausFile(small_cell).cycle_infos() if not i.is_train)

    def poison(cycle):  # type: ignore[no-untyped-def]
        if cycle.sample in (first_train, first_test):
            cycle.signals[10:12, SIGNALS.index("motor_position_2")] = np.nan  # one row survives 50 Hz
        return cycle

    data = _copy_cycles(small_cell, tmp_path / "nan.parquet", poison)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "m"), "--epochs", "1"])
    assert result.exit_code == 2
    assert f"cycle {first_train} has NaN/inf values in motor_position_2" in result.output

    result = runner.invoke(app, ["evaluate", str(tiny_model), str(data), "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    skipped = json.loads(result.stdout)["skipped"]
    assert [s["sample"] for s in skipped] == [first_test]
    assert "NaN/inf" in skipped[0]["reason"]


def test_data_without_the_models_signals_is_a_clear_error(
    small_cell: Path, tiny_model: Path, tmp_path: Path
) -> None:
    df = pd.read_parquet(small_cell).drop(columns=["motor_iq_3"])
    data = tmp_path / "fewer.parquet"
    df.to_parquet(data)
    result = runner.invoke(app, ["evaluate", str(tiny_model), str(data)])
    assert result.exit_code == 2
    assert "fewer.parquet: missing column(s): motor_iq_3" in result.output


def test_data_at_a_rate_the_model_cannot_use_is_a_clear_error(
    small_cell: Path, tiny_model: Path, tmp_path: Path
) -> None:
    def stretch(cycle):  # type: ignore[no-untyped-def]
        cycle.time = cycle.time * 100 / 30  # a 30 Hz recording cannot be brought to the model's 50 Hz
        return cycle

    data = _copy_cycles(small_cell, tmp_path / "slow.parquet", stretch)
    result = runner.invoke(app, ["evaluate", str(tiny_model), str(data)])
    assert result.exit_code == 2
    assert "slow.parquet: recorded at 29.8" in result.output
    assert "Hz, which cannot be brought to 50 Hz" in result.output


def test_threshold_flags_at_most_the_target_share_of_normal_scores() -> None:
    scores = np.random.default_rng(0).normal(size=1000)
    for fpr in (0.0, 0.01, 0.05, 0.2):
        threshold = threshold_at_fpr(scores, fpr)
        assert (scores > threshold).mean() <= fpr
        assert (scores >= threshold).mean() > fpr  # and not stricter than it needs to be
