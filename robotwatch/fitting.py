"""From a voraus-AD file to a calibrated model: split, normalize, train, set the threshold."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from robotwatch.artifact import ModelCard, TrainedModel, TrainingInfo
from robotwatch.datafile import DataError, check_finite, iter_cycles
from robotwatch.localization import gradient_baseline
from robotwatch.model import FlowConfig
from robotwatch.preprocessing import Normalizer, pad_batch
from robotwatch.scoring import Scorer
from robotwatch.training import TrainingSettings, train_flow


@dataclass(frozen=True)
class FitOptions:
    signals: tuple[str, ...]
    rate_hz: float = 100.0
    calibration_fraction: float = 0.1
    target_fpr: float = 0.01
    kernel_size: int = 13
    dilation: int = 2
    n_blocks: int = 4
    scale: int = 2
    clamp: float = 1.2
    clamp_form: str = "official"


class FitProgress:
    """Hooks for a progress display; the defaults do nothing."""

    def loaded(self, n_train: int, n_calibration: int, padded_length: int) -> None: ...
    def step(self) -> None: ...
    def epoch(self, epoch: int, loss: float) -> None: ...


def threshold_for(scores: np.ndarray, target_fpr: float) -> float:
    """The smallest threshold that flags at most `target_fpr` of these normal scores."""
    ordered = np.sort(scores)
    allowed = int(np.floor(target_fpr * len(ordered)))
    return float(ordered[len(ordered) - 1 - allowed])


def training_cycles(path: Path, signals: Sequence[str], rate_hz: float) -> tuple[list[int], list[np.ndarray]]:
    """Sample ids and float32 signals of the file's PRE_A cycles; NaN/inf is an error here."""
    samples, cycles = [], []
    for cycle in iter_cycles(path, signals, rate_hz, part="train"):
        problem = check_finite(cycle, path)
        if problem:
            raise DataError(f"{problem}; training needs clean normal cycles")
        samples.append(cycle.sample)
        cycles.append(cycle.signals.astype(np.float32))
    if not cycles:
        raise DataError(f"{path}: no training cycles (setting 72, PRE_A) in the file")
    return samples, cycles


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
    train = [raw[i] for i in order[n_cal:]]

    normalizer = Normalizer.fit(train)
    padded_length = max(len(c) for c in train)
    data, lengths, _ = pad_batch([normalizer.transform(c) for c in train], padded_length)
    progress.loaded(len(train), len(cal), padded_length)

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
    result = train_flow(data, lengths, config, settings, on_step=progress.step, on_epoch=progress.epoch)
    del data

    card = ModelCard(
        flow=config,
        signals=list(options.signals),
        sample_rate_hz=options.rate_hz,
        padded_length=padded_length,
        threshold=float("inf"),
        target_fpr=options.target_fpr,
        calibration_scores=[],
        training=TrainingInfo(
            data=path.name,
            n_train_cycles=len(train),
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
        flow=result.flow.cpu(), normalizer=normalizer, card=card,
        gradient_baseline=np.ones(padded_length, dtype=np.float32),
    )
    calibrate(model, cal if cal else train, options.target_fpr, device=settings.device)
    model.card.training.seconds = round(time.perf_counter() - started, 1)
    return model


def calibrate(model: TrainedModel, normal: Sequence[np.ndarray], target_fpr: float, device: str = "cpu",
              batch_size: int = 16) -> None:
    """Set the threshold and the localization baseline from normal cycles the flow has not seen."""
    scorer = Scorer(model, device=device)
    scores, profiles = [], []
    for start in range(0, len(normal), batch_size):
        chunk = list(normal[start : start + batch_size])
        s, _, p = scorer.gradients(chunk)
        scores.append(s)
        profiles.append(p)
    all_scores = np.concatenate(scores)
    lengths = np.array([min(len(c), model.card.padded_length) for c in normal])
    model.gradient_baseline = gradient_baseline(np.concatenate(profiles), lengths).astype(np.float32)
    model.card.threshold = threshold_for(all_scores, target_fpr)
    model.card.target_fpr = target_fpr
    model.card.calibration_scores = [round(float(s), 3) for s in all_scores]
