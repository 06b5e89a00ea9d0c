"""Image operations written without torchvision, and the AST building blocks."""

from __future__ import annotations

import math

import torch

from vision.ast.foreground import foreground_mask, height_above_background
from vision.ast.posenc import positional_encoding_2d
from vision.transforms import color_jitter, gaussian_blur, resize, rotate


def test_rotation_by_quarter_turns_is_exact_and_undoes_itself() -> None:
    x = torch.rand(2, 3, 16, 16)
    quarter = rotate(x, torch.tensor([90.0, 90.0]))
    assert torch.allclose(quarter, torch.rot90(x, k=1, dims=(2, 3)), atol=1e-5)  # counter-clockwise
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    smooth = torch.stack([torch.sin(2 * xs + ys), torch.cos(3 * ys), xs * ys])[None].repeat(2, 1, 1, 1)
    back = rotate(rotate(smooth, torch.tensor([30.0, -50.0])), torch.tensor([-30.0, 50.0]))
    centre = (slice(None), slice(None), slice(8, 24), slice(8, 24))  # the corners left the frame
    assert torch.allclose(back[centre], smooth[centre], atol=0.05)


def test_blur_keeps_the_mean_and_smooths() -> None:
    x = torch.zeros(1, 1, 21, 21)
    x[0, 0, 10, 10] = 1.0
    y = gaussian_blur(x, sigma=2.0)
    assert math.isclose(float(y.sum()), 1.0, rel_tol=1e-5)
    assert float(y.max()) < 0.05 and int(y.argmax()) == 10 * 21 + 10


def test_colour_jitter_stays_in_range_and_changes_images() -> None:
    x = torch.rand(8, 3, 8, 8)
    y = color_jitter(x, 0.4, 0.4, 0.4, torch.Generator().manual_seed(0))
    assert y.min() >= 0 and y.max() <= 1 and not torch.allclose(x, y)
    assert resize(x, 4).shape == (8, 3, 4, 4)


def test_positional_encoding_is_sinusoidal_and_unique_per_position() -> None:
    enc = positional_encoding_2d(8, 5, 7)
    assert enc.shape == (8, 5, 7)
    assert torch.allclose(enc[0, 0], torch.sin(torch.arange(7.0)))  # x, lowest frequency pair
    assert torch.allclose(enc[5, :, 0], torch.cos(torch.arange(5.0)))  # y
    assert torch.allclose(enc[:4].std(dim=1), torch.zeros(4, 7))  # the x half is constant along y
    columns = enc.flatten(1).T
    assert torch.cdist(columns, columns).add(torch.eye(35) * 10).min() > 0.1


def test_foreground_is_what_rises_above_a_tilted_background_plane() -> None:
    h = w = 64
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    depth = 0.8 + 0.004 * ys + 0.001 * xs  # a table seen at an angle
    depth[20:36, 24:40] -= 0.05  # a 5 cm high box
    depth[0, 0] = 0.0  # a missing value
    heights = height_above_background(depth[None, None])
    assert torch.allclose(heights[0, 0, 20:36, 24:40], torch.full((16, 16), 0.05), atol=1e-4)
    assert heights[0, 0, 50:, :].abs().max() < 1e-4
    mask = foreground_mask(heights, 0.01, (8, 8))[0]
    expected = torch.zeros(8, 8)
    expected[1:6, 2:6] = 1  # cells 2..4 × 3..4 hold the box, dilated by one cell
    assert torch.equal(mask, expected)
