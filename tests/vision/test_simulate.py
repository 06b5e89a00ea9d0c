"""The synthetic cell camera: reproducible, honestly varied, with exact masks per defect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation

from vision.simulate import DEFECTS, simulate_dataset
from vision.simulate.render import render, table_texture
from vision.simulate.scene import normal_scene, with_defect
from vision.simulate.writer import render_image


def test_dataset_is_written_in_mvtec_layout(tmp_path: Path) -> None:
    summary = simulate_dataset(tmp_path, images=3, size=96, test_per_defect=1, seed=1, pose="pick")
    assert summary.counts["train/good"] == 3 and summary.counts["test/good"] == 2
    for defect in DEFECTS:
        image = Image.open(tmp_path / "test" / defect / "000.png")
        mask = np.asarray(Image.open(tmp_path / "ground_truth" / defect / "000_mask.png"))
        depth = Image.open(tmp_path / "depth" / "test" / defect / "000.png")
        assert image.size == (96, 96) and image.mode == "RGB"
        assert mask.shape == (96, 96) and set(np.unique(mask)) == {0, 255}
        assert np.asarray(depth).dtype == np.uint16 and 400 < np.asarray(depth).mean() < 1100  # millimetres


def test_same_seed_same_pixels_other_seed_other_pixels() -> None:
    table = table_texture(96, 0)
    a = render_image(0, "train", "good", 5, 96, "place", table)
    b = render_image(0, "train", "good", 5, 96, "place", table)
    c = render_image(1, "train", "good", 5, 96, "place", table)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth_mm, b.depth_mm)
    assert not np.array_equal(a.rgb, c.rgb)


@pytest.mark.parametrize("pose", ["place", "pick"])
def test_normal_frames_vary_but_have_no_defect_pixels(pose: str) -> None:
    table = table_texture(128, 0)
    frames = [render_image(0, "train", "good", i, 128, pose, table) for i in range(6)]
    assert not any(f.mask.any() for f in frames)
    stack = np.stack([f.rgb.astype(float) for f in frames])
    # position, label spin, light and noise differ from frame to frame, as in a real cell
    assert stack.std(axis=0).mean() > 3.0


@pytest.mark.parametrize("pose", ["place", "pick"])
@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_changes_the_frame_where_its_mask_says(defect: str, pose: str) -> None:
    size = 192
    table = table_texture(size, 0)
    for i in range(3):
        rng = np.random.default_rng(i)
        scene = normal_scene(rng, size, pose)
        broken = with_defect(scene, defect, rng)
        # Same sensor noise for both, so that the difference is the defect alone.
        before, after = (render(s, table, np.random.default_rng(7)) for s in (scene, broken))
        assert not before.mask.any()
        changed = np.abs(after.rgb.astype(int) - before.rgb.astype(int)).max(axis=-1) > 40
        near_mask = binary_dilation(after.mask, iterations=3)
        largest = 0.45 if defect == "misplaced" else 0.25  # where the can is and where it belongs
        assert 0.0005 < after.mask.mean() < largest, f"mask covers {after.mask.mean():.2%}"
        # Shadows of moved or added things may fall outside the mask; little else may.
        assert changed[near_mask].sum() >= 0.7 * changed.sum(), f"#{i}: changes outside the mask"
        assert changed[after.mask].mean() > 0.2, f"#{i}: the mask marks pixels that did not change"
