"""Image operations on tensors, written with torch alone (torchvision is not available).

Images are float tensors in [0, 1] of shape (B, C, H, W); maps are (B, H, W) or (B, 1, H, W).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def resize(x: Tensor, size: tuple[int, int] | int) -> Tensor:
    """Bilinear resize with antialiasing when shrinking (as PIL does), for (B, C, H, W)."""
    size = (size, size) if isinstance(size, int) else size
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def rotate(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each image of (B, C, H, W) counter-clockwise about its centre; corners fill with 0.

    `degrees` has one angle per image. Rotating by -a undoes a rotation by a (up to the
    corners that left the frame), which the DifferNet gradient map relies on.
    """
    theta = torch.deg2rad(degrees.to(x.dtype))
    cos, sin = torch.cos(theta), torch.sin(theta)
    zero = torch.zeros_like(cos)
    # affine_grid maps output to input coordinates, so a counter-clockwise turn of the
    # picture samples at the clockwise-turned position (image y points down).
    matrix = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
    grid = F.affine_grid(matrix, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def color_jitter(
    images: Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Random brightness, contrast and saturation per image, with torchvision's meaning of the factors."""
    b = images.shape[0]

    def factor(amount: float) -> Tensor:
        u = torch.rand(b, 1, 1, 1, generator=generator, device="cpu").to(images.device)
        return 1 + amount * (2 * u - 1)

    x = images * factor(brightness) if brightness else images
    if contrast:
        mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
        x = mean + factor(contrast) * (x - mean)
    if saturation:
        gray = grayscale(x)
        x = gray + factor(saturation) * (x - gray)
    return x.clamp(0, 1)


def grayscale(images: Tensor) -> Tensor:
    weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of every channel of (B, C, H, W), reflecting at the borders."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    coords = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (coords / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
