"""Decision thresholds chosen on normal images only, for a target false-positive rate."""

from __future__ import annotations

import torch
from pydantic import BaseModel, Field

from rwcore.thresholds import threshold_at_fpr
from vision.datasets import ImageFolderDataset
from vision.detector import Detector
from vision.engine.predict import predict_batches


class Thresholds(BaseModel):
    """`score`: an image is anomalous when its score exceeds it. `map`: pixels above it form
    the anomalous region; on normal images any pixel exceeds it at about the target rate."""

    score: float
    map: float
    target_fpr: float = Field(gt=0, lt=1)
    n_normal: int = Field(ge=1, description="held-out normal images the thresholds were chosen on")


def calibrate(
    detector: Detector, normal: ImageFolderDataset, target_fpr: float, batch_size: int = 4
) -> Thresholds:
    scores, peaks = [], []
    for _, pred in predict_batches(detector, normal, batch_size):
        scores.append(pred.score)
        peaks.append(pred.anomaly_map.flatten(1).amax(dim=1))
    return Thresholds(
        score=threshold_at_fpr(torch.cat(scores).numpy(), target_fpr),
        map=threshold_at_fpr(torch.cat(peaks).numpy(), target_fpr),
        target_fpr=target_fpr,
        n_normal=len(normal),
    )
