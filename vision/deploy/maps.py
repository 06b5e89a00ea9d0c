"""Save an anomaly map as a PNG: a heat map, blended over the frame when one is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image


def save_map_png(
    anomaly_map: np.ndarray, path: Path, frame: torch.Tensor | None = None, vmax: float | None = None
) -> Path:
    """Writes `anomaly_map` (H, W) with the jet colour map scaled to [0, vmax] (default: its maximum).

    With `frame` ((3, H, W) in [0, 1], same size), the heat map is blended over it. Pass the
    model's map threshold times two as `vmax` to keep colours comparable across frames.
    """
    m = np.asarray(anomaly_map, dtype=np.float32)
    top = float(vmax if vmax is not None else m.max())
    heat = colormaps["jet"](np.clip(m / top, 0, 1) if top > 0 else np.zeros_like(m))[..., :3]
    if frame is not None:
        image = frame.detach().cpu().permute(1, 2, 0).numpy()
        if image.shape[:2] != m.shape:
            raise ValueError(f"frame of size {image.shape[:2]} and map of size {m.shape} differ")
        heat = 0.5 * heat + 0.5 * image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((heat * 255 + 0.5).astype(np.uint8)).save(path)
    return path
