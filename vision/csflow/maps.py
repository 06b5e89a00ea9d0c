"""CS-Flow's localization: the channel-wise squared norm of z, upsampled to the image."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def csflow_map(z_finest: Tensor, image_size: int) -> Tensor:
    """Mean of z² over the channels of the finest scale (B, C, h, w), bilinearly upsampled to (B, S, S)."""
    norm = (z_finest**2).mean(dim=1, keepdim=True)
    return F.interpolate(norm, size=(image_size, image_size), mode="bilinear", align_corners=False)[:, 0]
