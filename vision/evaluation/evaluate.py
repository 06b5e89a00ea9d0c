"""Score a test set and compute image- and pixel-level AUROC, overall and per defect type.

Per defect type, the images of that type are ranked against all normal test images (the
MVTec convention), never against the other defects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel

from vision.datasets import GOOD, ImageFolderDataset, Sample, scan_split
from vision.detector import Detector
from vision.engine.predict import predict_batches
from vision.engine.thresholds import Thresholds
from vision.evaluation.metrics import auroc


class DefectMetrics(BaseModel):
    images: int
    image_auroc: float | None
    pixel_auroc: float | None  # None when this defect type has no masks
    detected: float  # fraction of these images above the score threshold


class EvaluationResult(BaseModel):
    data: str
    method: str
    image_size: int
    image_auroc: float | None
    pixel_auroc: float | None
    auroc_by_defect: dict[str, DefectMetrics]
    threshold: float
    false_positive_rate: float  # of the normal test images at the stored threshold
    normal_images: int


class TestScores:
    """Everything needed for metrics and plots, held as arrays. Maps stay float32: float16 keeps
    three significant digits, and neighbouring pixels of a smooth map would tie."""

    def __init__(
        self,
        samples: list[Sample],
        scores: np.ndarray,
        maps: np.ndarray,
        masks: np.ndarray,
        has_mask: np.ndarray,
    ):
        self.samples, self.scores, self.maps, self.masks, self.has_mask = (
            samples,
            scores,
            maps,
            masks,
            has_mask,
        )
        self.defects = np.array([s.defect for s in samples])
        self.labels = self.defects != GOOD


def score_test_set(detector: Detector, data_dir: Path, batch_size: int = 4) -> TestScores:
    samples = scan_split(Path(data_dir), "test")
    dataset = ImageFolderDataset(samples, detector.config.image_size, detector.needs_depth)
    n, size = len(samples), detector.config.image_size
    scores = np.empty(n, np.float32)
    maps = np.empty((n, size, size), np.float32)
    masks = np.empty((n, size, size), bool)
    has_mask = np.empty(n, bool)
    for batch, pred in predict_batches(detector, dataset, batch_size):
        idx = batch["index"].numpy()
        scores[idx] = pred.score.numpy()
        maps[idx] = pred.anomaly_map.numpy()
        masks[idx] = batch["mask"][:, 0].numpy()
        has_mask[idx] = batch["has_mask"].numpy()
    return TestScores(samples, scores, maps, masks, has_mask)


def _pixel_auroc(ts: TestScores, select: np.ndarray) -> float | None:
    select = select & ts.has_mask
    if not (select & ts.labels).any():
        return None
    return auroc(ts.maps[select], ts.masks[select])


def compute_metrics(
    ts: TestScores, thresholds: Thresholds, method: str, data_dir: Path, image_size: int
) -> EvaluationResult:
    normal = ~ts.labels
    by_defect = {}
    for defect in sorted(set(ts.defects) - {GOOD}):
        mine = ts.defects == defect
        select = mine | normal
        by_defect[defect] = DefectMetrics(
            images=int(mine.sum()),
            image_auroc=auroc(ts.scores[select], ts.labels[select]),
            pixel_auroc=_pixel_auroc(ts, select) if ts.has_mask[mine].all() else None,
            detected=float((ts.scores[mine] > thresholds.score).mean()),
        )
    return EvaluationResult(
        data=str(data_dir),
        method=method,
        image_size=image_size,
        image_auroc=auroc(ts.scores, ts.labels),
        pixel_auroc=_pixel_auroc(ts, np.ones_like(ts.labels)),
        auroc_by_defect=by_defect,
        threshold=thresholds.score,
        false_positive_rate=float((ts.scores[normal] > thresholds.score).mean())
        if normal.any()
        else float("nan"),
        normal_images=int(normal.sum()),
    )
