"""DifferNet's localization: where a small change of the image would change the score most."""

from __future__ import annotations

import torch
from torch import Tensor

from vision.transforms import gaussian_blur, rotate


def gradient_map(grad: Tensor, angle: float, sigma: float) -> Tensor:
    """The gradient of the score w.r.t. a rotated input image (B, 3, H, W) as a map (B, H, W).

    Absolute gradient summed over the colour channels, blurred with a Gaussian of `sigma`
    pixels, then rotated back by -angle so that maps of all test-time rotations align.
    """
    g = gaussian_blur(grad.abs().sum(dim=1, keepdim=True), sigma)
    if angle:
        g = rotate(g, torch.full((len(g),), -angle, dtype=g.dtype, device=g.device))
    return g[:, 0].detach()
