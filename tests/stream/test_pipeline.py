"""The pipeline in process: a recorded file as frames of several robots gives one verdict per
cycle and robot, with the score offline evaluation gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from replay import VorausFile
from replay.schema import Category
from robotwatch.cli.main import app
from robotwatch.evaluation.protocol import evaluate_model
from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.score import Localize
from robotwatch.playback.embedded import replay_embedded
from robotwatch.stream.pipeline import PipelineSettings
from robotwatch.stream.verdicts import Verdict


@pytest.mark.parametrize("preset", ["thesis", "recommended"])
def test_replayed_cycles_get_one_verdict_each_with_the_offline_score(
    preset: str, small_cell: Path, request: pytest.FixtureRequest
) -> None:
    model = load_model(request.getfixturevalue("tiny_model" if preset == "thesis" else "recommended_model"))
    assert model.card.preset == preset
    result = replay_embedded(
        model, small_cell, robots=3, settings=PipelineSettings(localize=Localize.FLAGGED)
    )
    test_samples = [i.sample for i in VorausFile(small_cell).cycle_infos() if not i.is_train]
    by_robot: dict[str, list[Verdict]] = {}
    for v in result.verdicts:
        by_robot.setdefault(v.robot_id or "", []).append(v)
    assert sorted(by_robot) == ["robot-001", "robot-002", "robot-003"]
    offline = evaluate_model(model, small_cell, localize=Localize.NONE).results.set_index("sample")["score"]
    lengths = {c.sample: c.n_steps for c in VorausFile(small_cell, signals=()).cycles(divider=2)}
    for verdicts in by_robot.values():
        assert sorted(int(v.cycle_id) for v in verdicts) == sorted(test_samples)
        assert len({v.verdict_id for v in verdicts}) == len(verdicts)
        streamed = np.array([v.score for v in sorted(verdicts, key=lambda v: int(v.cycle_id))])
        # (the recommended score is in standard deviations, near 0 for normal cycles: atol)
        np.testing.assert_allclose(
            streamed, offline.loc[sorted(test_samples)].to_numpy(), rtol=1e-4, atol=1e-4
        )
        assert not any(v.flags.incomplete or v.flags.gap for v in verdicts)
        # cycles longer than the longest training cycle are scored on their start, and say so
        assert {v.cycle_id for v in verdicts if v.flags.truncated} == {
            str(s) for s in test_samples if lengths[s] > model.card.padded_length
        }
    # anomalous verdicts say when and where
    flagged = [v for v in result.verdicts if v.anomalous]
    assert flagged and all(v.events and v.events[0].top_signals for v in flagged)
    # every verdict is valid JSON of the documented schema
    again = Verdict.model_validate(json.loads(result.verdicts[0].to_bytes()))
    assert again == result.verdicts[0] and again.schema_version == 2


def test_replay_command_summarizes_detection_alerts_and_latency(tiny_model: Path, small_cell: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["replay", str(small_cell), "--model", str(tiny_model), "--json", "--robots", "2", "--device", "cpu"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    n_test = sum(1 for i in VorausFile(small_cell).cycle_infos() if not i.is_train)
    assert summary["verdicts"] == 2 * n_test and summary["robots"] == 2
    assert 0 <= summary["mean_auroc"] <= 1 and len(summary["auroc"]) == 12
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p99"] <= summary["latency_ms"]["max"]
    # Every alarm, as the anomalies topic carries it, with how far over the threshold and why.
    alerts = summary["alerts"]
    assert len(alerts) == summary["anomalous"] > 0
    assert {a["robot_id"] for a in alerts} <= {"robot-001", "robot-002"} and all(
        a["anomalous"] for a in alerts
    )
    severities = [a["severity"] for a in alerts if a["severity"] is not None]
    assert severities == sorted(severities, reverse=True) and min(severities) > 1
    assert all(a["labelled"] in {c.name for c in Category} for a in alerts)
    assert all(a["why"] and a["threshold"] == alerts[0]["threshold"] for a in alerts)
