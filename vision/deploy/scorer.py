"""Score camera frames with a trained model file: the object the streaming service holds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vision.deploy.images import ImageError, decode_image
from vision.deploy.results import FrameResult, Localization
from vision.model_file import load_model
from vision.transforms import resize


def summarize(anomaly_map: np.ndarray, map_threshold: float) -> Localization:
    """Peak and bounding box of the region above the threshold, for a (H, W) map."""
    peak_y, peak_x = np.unravel_index(int(np.argmax(anomaly_map)), anomaly_map.shape)
    above = anomaly_map > map_threshold
    bbox = None
    if above.any():
        rows, cols = np.flatnonzero(above.any(axis=1)), np.flatnonzero(above.any(axis=0))
        bbox = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return Localization(
        peak_x=int(peak_x),
        peak_y=int(peak_y),
        peak_value=float(anomaly_map[peak_y, peak_x]),
        bbox=bbox,
        area_fraction=float(above.mean()),
        map_threshold=map_threshold,
    )


class FrameScorer:
    """A loaded model with its thresholds. Not thread-safe; use one per worker."""

    def __init__(self, path: Path, device: str = "auto", backbone_weights: Path | None = None) -> None:
        self.path = Path(path)
        self.detector, self.meta = load_model(self.path, device, backbone_weights)
        # Identifies the model in verdicts: the same weights and settings, the same id everywhere.
        self.model_id = self.meta.model_id

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) the model was trained on; frames of another size are refused."""
        return self.meta.frame_size

    def decode(self, data: bytes) -> torch.Tensor:
        """`decode_image` with this model's frame size; raises `ImageError` with the reason."""
        return decode_image(data, expected_size=self.frame_size)

    def score(
        self, frames: Sequence[torch.Tensor], depths: Sequence[torch.Tensor] | None = None
    ) -> list[FrameResult]:
        """Score decoded frames ((3, H, W) in [0, 1]; sizes may differ) in one batch."""
        if not frames:
            return []
        size = self.meta.config.image_size
        device = self.detector.device
        images = torch.cat([resize(f[None].to(device), size) for f in frames])
        depth = None
        if depths is not None:
            depth = torch.cat(
                [
                    F.interpolate(
                        d.reshape(1, 1, *d.shape[-2:]).to(device), size=(size, size), mode="nearest"
                    )
                    for d in depths
                ]
            )
        if self.detector.needs_depth and depth is None:
            raise ImageError("no depth map: this model was trained with depth and needs one per frame")
        with torch.no_grad():
            pred = self.detector(images, depth)
        t = self.meta.thresholds
        results = []
        for frame, score, small in zip(frames, pred.score.cpu(), pred.anomaly_map, strict=True):
            full = F.interpolate(
                small[None, None], size=tuple(frame.shape[-2:]), mode="bilinear", align_corners=False
            )
            anomaly_map = full[0, 0].float().cpu().numpy()
            results.append(
                FrameResult(
                    model_id=self.model_id,
                    score=float(score),
                    threshold=t.score,
                    anomalous=bool(score > t.score),
                    localization=summarize(anomaly_map, t.map),
                    anomaly_map=anomaly_map,
                )
            )
        return results
