"""From a voraus-AD file to a calibrated model: split, normalize, train, set the threshold.

Training is that of thesis §8.1 and the official voraus-AD code: Adam 8e-4, 70 epochs,
batch 32, learning rate x0.1 at epochs 11 and 61, loss = NLL per dimension. (The official
code drops the 0.5 in front of sum(z^2) in its training loss, which fits N(0, 1/2) instead
of N(0, 1); we train the true NLL that the score uses.) Progress is reported through a
`FitProgress`, so that this module shows nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from robotwatch.mtsflow.data import training_cycles, training_set
from robotwatch.mtsflow.localize import gradient_baseline
from robotwatch.mtsflow.model_file import ModelCard, TrainedModel, TrainingInfo
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.mtsflow.presets import DEFAULT_PRESET, Preset
from robotwatch.mtsflow.recommended_score import calibrate_rule, recommended_score
from robotwatch.mtsflow.score import Scorer
from robotwatch.program import VORAUS_AD, Program
from rwcore.thresholds import threshold_at_fpr


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 70
    batch_size: int = 32
    learning_rate: float = 8e-4
    milestones: tuple[int, ...] = (11, 61)
    gamma: float = 0.1
    seed: int = 177
    device: str = "cpu"


@dataclass(frozen=True)
class FitOptions:
    signals: tuple[str, ...]
    program: Program = VORAUS_AD
    rate_hz: float = 100.0
    calibration_fraction: float = 0.1
    target_fpr: float = 0.01
    kernel_size: int = 13
    dilation: int = 2
    n_blocks: int = 4
    scale: int = 2
    clamp: float = 1.2
    clamp_form: Literal["official", "thesis"] = "official"
    preset: Preset = DEFAULT_PRESET


class FitProgress:
    """Hooks for a progress display; the defaults do nothing."""

    def loaded(self, n_train: int, n_calibration: int, padded_length: int) -> None: ...
    def step(self) -> None: ...
    def epoch(self, epoch: int, loss: float) -> None: ...


@dataclass
class TrainingResult:
    flow: MTSFlow
    losses: list[float] = field(default_factory=list)


def train_flow(
    data: torch.Tensor,
    lengths: torch.Tensor,
    config: FlowConfig,
    settings: TrainingSettings,
    progress: FitProgress | None = None,
) -> TrainingResult:
    """Fit a fresh MTS-Flow to normalized, zero-padded training cycles (N, S, T).

    Reproducible for a given seed on the same device: the weights and the batch order
    both come from the seed.
    """
    if data.shape[0] == 0:
        raise ValueError("no training cycles")
    progress = progress or FitProgress()
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    flow = MTSFlow(config).to(device).train()
    optimizer = torch.optim.Adam(flow.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(settings.milestones), gamma=settings.gamma
    )
    order = torch.Generator().manual_seed(settings.seed)
    n_dims = data.shape[1] * data.shape[2]
    result = TrainingResult(flow=flow)
    for epoch in range(settings.epochs):
        total, n_batches = 0.0, 0
        for idx in torch.randperm(len(data), generator=order).split(settings.batch_size):
            x = data[idx].to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = flow.nll(x, lengths[idx]).mean() / n_dims
            loss.backward()
            optimizer.step()
            total += loss.item()
            n_batches += 1
            progress.step()
        scheduler.step()
        result.losses.append(total / n_batches)
        progress.epoch(epoch, result.losses[-1])
    flow.eval()
    return result


def fit_model(
    path: str | PathLike[str],
    options: FitOptions,
    settings: TrainingSettings,
    progress: FitProgress | None = None,
    config_hook: Callable[[FlowConfig], FlowConfig] | None = None,
) -> TrainedModel:
    """Train MTS-Flow on the file's PRE_A cycles and calibrate its threshold on held-out ones."""
    progress = progress or FitProgress()
    path = Path(path)
    started = time.perf_counter()
    samples, raw = training_cycles(path, options.signals, options.rate_hz)
    order = np.random.default_rng(settings.seed).permutation(len(raw))
    n_cal = round(options.calibration_fraction * len(raw)) if len(raw) > 1 else 0
    n_cal = min(n_cal, len(raw) - 1)
    cal = [raw[i] for i in order[:n_cal]]
    train = training_set([raw[i] for i in order[n_cal:]])
    progress.loaded(len(train.x), len(cal), train.padded_length)

    config = FlowConfig(
        n_signals=len(options.signals),
        n_blocks=options.n_blocks,
        scale=options.scale,
        kernel_size=options.kernel_size,
        dilation=options.dilation,
        clamp=options.clamp,
        clamp_form=options.clamp_form,
        permutation_seed=settings.seed,
    )
    if config_hook is not None:
        config = config_hook(config)
    result = train_flow(train.x, train.lengths, config, settings, progress)

    card = ModelCard(
        flow=config,
        signals=list(options.signals),
        program=options.program,
        sample_rate_hz=options.rate_hz,
        padded_length=train.padded_length,
        threshold=float("inf"),
        target_fpr=options.target_fpr,
        calibration_scores=[],
        training=TrainingInfo(
            data=path.name,
            n_train_cycles=len(train.x),
            n_calibration_cycles=len(cal),
            calibration_samples=sorted(samples[i] for i in order[:n_cal]),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            seed=settings.seed,
            final_loss=result.losses[-1] if result.losses else float("nan"),
            seconds=0.0,
            device=settings.device,
        ),
    )
    model = TrainedModel(
        flow=result.flow.cpu(),
        normalizer=train.normalizer,
        card=card,
        gradient_baseline=np.ones(train.padded_length, dtype=np.float32),
    )
    del train
    calibrate(model, cal if cal else raw, options.target_fpr, device=settings.device)
    if options.preset == "recommended":
        calibrate_recommended(model, raw, cal if cal else raw, options.target_fpr, device=settings.device)
    model.card.training.seconds = round(time.perf_counter() - started, 1)
    return model


def calibrate(
    model: TrainedModel,
    normal: Sequence[np.ndarray],
    target_fpr: float,
    device: str = "cpu",
    batch_size: int = 16,
) -> None:
    """Set the threshold and the localization baseline from normal cycles the flow has not seen."""
    scorer = Scorer(model, device=device)
    scores, profiles = [], []
    for start in range(0, len(normal), batch_size):
        s, _, p = scorer.gradients(list(normal[start : start + batch_size]))
        scores.append(s)
        profiles.append(p)
    all_scores = np.concatenate(scores)
    lengths = np.array([min(len(c), model.card.padded_length) for c in normal])
    model.gradient_baseline = gradient_baseline(np.concatenate(profiles), lengths).astype(np.float32)
    model.card.threshold = threshold_at_fpr(all_scores, target_fpr)
    model.card.target_fpr = target_fpr
    model.card.calibration_scores = [round(float(s), 3) for s in all_scores]


def calibrate_recommended(
    model: TrainedModel,
    normal: Sequence[np.ndarray],
    calibration: Sequence[np.ndarray],
    target_fpr: float,
    device: str = "cpu",
) -> None:
    """Give a calibrated model the recommended preset's score: the normal statistics, centres
    and scales from all normal cycles, the onset level and the threshold from the calibration
    cycles."""
    scorer = Scorer(model, device=device)
    calibration_ev = scorer.evidence(calibration)
    rule, stats = calibrate_rule(scorer.evidence(normal), calibration_ev, model.card.sample_rate_hz)
    model.normal_stats = stats
    scores = recommended_score(calibration_ev, rule, stats, model.card.sample_rate_hz)
    model.card.preset = "recommended"
    model.card.score_rule = rule
    model.card.threshold = threshold_at_fpr(scores, target_fpr)
    model.card.calibration_scores = [round(float(s), 3) for s in scores]
