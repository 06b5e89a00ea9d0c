"""Depth maps for AST: height above the background plane, and the foreground mask from it.

The background (table, conveyor, tray) is assumed to be a plane that fills the frame's border.
It is fitted per frame, robustly, so that a camera that moves a little does not matter.
"""

from __future__ import annotations

import torch
from torch import Tensor


def height_above_background(depth: Tensor, border: float = 0.08, inlier_quantile: float = 0.7) -> Tensor:
    """Heights (B, 1, H, W) in the depth's unit, positive towards the camera.

    `depth` (B, 1, H, W) is the distance from the camera; 0 marks missing values, which count
    as background. The plane is fitted by least squares to the border pixels, then refitted
    to the `inlier_quantile` of them closest to the first fit (objects may touch the border).
    """
    b, _, h, w = depth.shape
    ys, xs = torch.meshgrid(
        torch.linspace(-1, 1, h, device=depth.device),
        torch.linspace(-1, 1, w, device=depth.device),
        indexing="ij",
    )
    design = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)  # (HW, 3)
    edge = max(1, round(border * min(h, w)))
    ring = torch.ones(h, w, dtype=torch.bool, device=depth.device)
    ring[edge:-edge, edge:-edge] = False
    ring = ring.reshape(-1)
    heights = []
    for d in depth.reshape(b, -1):
        use = ring & (d > 0)
        if use.sum() < 3:
            raise ValueError("depth map has no valid values at its border to fit the background plane")
        a, y = design[use], d[use]
        coef = torch.linalg.lstsq(a, y[:, None]).solution
        residual = (a @ coef)[:, 0] - y
        keep = residual.abs() <= torch.quantile(residual.abs(), inlier_quantile)
        coef = torch.linalg.lstsq(a[keep], y[keep][:, None]).solution
        plane = (design @ coef)[:, 0]
        heights.append(torch.where(d > 0, plane - d, torch.zeros_like(d)))
    return torch.stack(heights).reshape(b, 1, h, w)


def foreground_mask(heights: Tensor, min_height: float, size: tuple[int, int]) -> Tensor:
    """(B, h, w) in {0, 1}: a feature-map cell is foreground if any pixel in it is above min_height.

    Dilated by one cell, because a feature already responds to an object next to its cell.
    """
    above = (heights > min_height).to(heights.dtype)
    cells = torch.nn.functional.adaptive_max_pool2d(above, size)
    return torch.nn.functional.max_pool2d(cells, 3, stride=1, padding=1)[:, 0]
