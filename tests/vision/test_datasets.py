"""Reading datasets in the MVTec AD layout: what is found, and clear errors when it is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vision.datasets import DatasetError, ImageFolderDataset, frame_size, scan_split


def _png(path: Path, value: int, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for i in range(3):
        _png(tmp_path / "train/good" / f"{i:03d}.png", 100 + i)
    _png(tmp_path / "test/good/000.png", 90)
    _png(tmp_path / "test/scratch/000.png", 200)
    mask = np.zeros((30, 40), np.uint8)
    mask[10:20, 5:15] = 255
    (tmp_path / "ground_truth/scratch").mkdir(parents=True)
    Image.fromarray(mask).save(tmp_path / "ground_truth/scratch/000_mask.png")
    _png(tmp_path / "test/stain/000.jpg", 50)  # a defect type without ground truth
    depth = np.full((30, 40), 812, np.uint16)
    (tmp_path / "depth/test/scratch").mkdir(parents=True)
    Image.fromarray(depth).save(tmp_path / "depth/test/scratch/000.png")
    return tmp_path


def test_scan_finds_images_masks_and_depth(layout: Path) -> None:
    train = scan_split(layout, "train")
    assert [s.image.name for s in train] == ["000.png", "001.png", "002.png"]
    assert {s.defect for s in train} == {"good"}
    test = {s.defect: s for s in scan_split(layout, "test")}
    assert set(test) == {"good", "scratch", "stain"}
    assert test["scratch"].mask.name == "000_mask.png" and test["scratch"].depth is not None
    assert test["stain"].mask is None and test["good"].mask is None
    assert frame_size(train) == (40, 30)


def test_items_are_resized_tensors_with_aligned_masks(layout: Path) -> None:
    samples = [s for s in scan_split(layout, "test") if s.defect == "scratch"]
    item = ImageFolderDataset(samples, 20, with_depth=True)[0]
    assert item["image"].shape == (3, 20, 20) and abs(float(item["image"].mean()) - 200 / 255) < 1e-3
    mask = item["mask"][0]
    assert mask.shape == (20, 20) and mask[10, 5] and not mask[2, 18]
    assert float(item["depth"].mean()) == pytest.approx(0.812)
    assert int(item["label"]) == 1 and bool(item["has_mask"])


def test_layout_errors_name_the_path(layout: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"train/good: missing"):
        scan_split(tmp_path / "test", "train")
    (layout / "ground_truth/scratch/000_mask.png").unlink()
    with pytest.raises(DatasetError, match=r"000_mask\.png: missing ground-truth mask"):
        scan_split(layout, "test")
    with pytest.raises(DatasetError, match="no depth map"):
        ImageFolderDataset(scan_split(layout, "train"), 20, with_depth=True)


def test_a_corrupt_image_is_reported_with_its_file(layout: Path) -> None:
    bad = layout / "train/good/001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    dataset = ImageFolderDataset(scan_split(layout, "train"), 20)
    with pytest.raises(DatasetError, match=r"001\.png: cannot read image"):
        dataset[1]
