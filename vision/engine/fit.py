"""From a dataset folder to a trained, calibrated model: split, train, choose thresholds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rwcore.device import pick_device
from vision.config import MethodConfig
from vision.datasets import DatasetError, ImageFolderDataset, Sample, frame_size, scan_split
from vision.detector import Detector
from vision.engine.thresholds import calibrate
from vision.engine.trainer import EpochLog, train
from vision.model_file import ModelMeta, TrainingInfo
from vision.models import build_detector


def split_holdout(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(training, held-out) normal samples; at least one image on each side."""
    if len(samples) < 2:
        raise ValueError(f"need at least 2 normal training images to hold some out, found {len(samples)}")
    n_out = min(len(samples) - 1, max(1, round(fraction * len(samples))))
    order = np.random.default_rng(seed).permutation(len(samples))
    held = set(order[:n_out].tolist())
    return [s for i, s in enumerate(samples) if i not in held], [
        s for i, s in enumerate(samples) if i in held
    ]


def fit(
    data_dir: Path,
    config: MethodConfig,
    device: str = "auto",
    seed: int = 0,
    holdout: float = 0.15,
    target_fpr: float = 0.01,
    backbone_weights: Path | None = None,
    workers: int = 0,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> tuple[Detector, ModelMeta]:
    """Train on `data_dir/train/good` minus a held-out part, and calibrate the thresholds on that part."""
    start = time.perf_counter()
    samples = scan_split(Path(data_dir), "train")
    if len(samples) < 2:
        raise DatasetError(
            Path(data_dir) / "train" / "good", "need at least 2 normal images (some are held out)"
        )
    fit_samples, held_out = split_holdout(samples, holdout, seed)
    torch.manual_seed(seed)  # the initial weights come from the seed too
    detector = build_detector(config, backbone_weights).to(pick_device(device))
    with_depth = detector.needs_depth
    logs = train(
        detector,
        ImageFolderDataset(fit_samples, config.image_size, with_depth),
        seed=seed,
        workers=workers,
        on_epoch=on_epoch,
    )
    thresholds = calibrate(detector, ImageFolderDataset(held_out, config.image_size, with_depth), target_fpr)
    epochs, final = {}, {}
    for log in logs:
        epochs[log.stage], final[log.stage] = log.epochs, log.loss
    meta = ModelMeta(
        config=config,
        backbone=detector.backbone.spec,
        frame_size=frame_size(samples),
        thresholds=thresholds,
        training=TrainingInfo(
            data=str(data_dir),
            images=len(fit_samples),
            epochs=epochs,
            final_loss=final,
            seconds=time.perf_counter() - start,
            seed=seed,
            device=str(detector.device),
        ),
    )
    return detector, meta
