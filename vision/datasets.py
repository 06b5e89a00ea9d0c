"""Image datasets in the MVTec AD folder layout, read lazily one image at a time.

    DIR/train/good/*.png                  normal training images
    DIR/test/good/*.png                   normal test images
    DIR/test/<defect>/*.png               anomalous test images, one folder per defect type
    DIR/ground_truth/<defect>/<stem>_mask.png   pixel masks (optional per defect type)
    DIR/depth/<train|test>/<defect>/<stem>.png  optional depth maps: 16-bit PNG in millimetres
                                                (0 = no value) or .npy float metres

Any image format PIL reads is accepted (png, jpg, bmp, tif). Only paths are held in memory;
pixels are read when an item is requested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset

from rwcore.errors import UserError
from vision.transforms import resize

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
GOOD = "good"


class DatasetError(UserError):
    """The folder is not in the MVTec layout, or a file in it cannot be read; names the path."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Sample:
    image: Path
    defect: str  # "good" for normal images
    mask: Path | None  # None: no ground truth (normal images, or a defect type without masks)
    depth: Path | None

    @property
    def label(self) -> int:
        return int(self.defect != GOOD)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _depth_for(root: Path, split: str, defect: str, stem: str) -> Path | None:
    for suffix in (".png", ".npy"):
        candidate = root / "depth" / split / defect / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def scan_split(root: Path, split: str) -> list[Sample]:
    """The samples of `train` (only train/good) or `test` (every defect folder)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "dataset folder not found")
    base = root / split
    if split == "train":
        folders = [base / GOOD]
        if not folders[0].is_dir():
            raise DatasetError(
                folders[0], "missing: an MVTec-layout dataset has its normal training images here"
            )
    else:
        if not base.is_dir():
            raise DatasetError(base, "missing: an MVTec-layout dataset has one folder per defect type here")
        folders = sorted(p for p in base.iterdir() if p.is_dir())
    samples = []
    for folder in folders:
        defect = folder.name
        gt = root / "ground_truth" / defect
        for image in _images(folder):
            mask = None
            if defect != GOOD and gt.is_dir():
                mask = next(
                    (m for m in (gt / f"{image.stem}_mask.png", gt / f"{image.stem}.png") if m.is_file()),
                    None,
                )
                if mask is None:
                    raise DatasetError(
                        gt / f"{image.stem}_mask.png", f"missing ground-truth mask for {image}"
                    )
            samples.append(Sample(image, defect, mask, _depth_for(root, split, defect, image.stem)))
    if not samples:
        raise DatasetError(base, "no images found")
    return samples


def read_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(path, f"cannot read image ({exc})") from exc


def image_to_tensor(img: Image.Image, size: int) -> Tensor:
    """(3, size, size) float in [0, 1], resized exactly as the stream's frames are (`transforms.resize`)."""
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return resize(x[None], size)[0].contiguous()


def read_mask(path: Path, size: int) -> Tensor:
    try:
        with Image.open(path) as img:
            mask = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(path, f"cannot read mask ({exc})") from exc
    return torch.from_numpy(np.asarray(mask) >= 128)[None]


def read_depth(path: Path, size: int) -> Tensor:
    """(1, size, size) float32 metres from the camera; 0 where the sensor had no value."""
    try:
        if path.suffix == ".npy":
            depth = np.load(path, allow_pickle=False).astype(np.float32)
        else:
            with Image.open(path) as img:
                depth = np.asarray(img, dtype=np.float32) / 1000.0  # 16-bit PNG in millimetres
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(path, f"cannot read depth map ({exc})") from exc
    if depth.ndim != 2:
        raise DatasetError(path, f"a depth map must have one channel, got shape {depth.shape}")
    # Nearest keeps the 0 = missing marker from bleeding into valid values.
    resized = Image.fromarray(depth).resize((size, size), Image.Resampling.NEAREST)
    return torch.from_numpy(np.asarray(resized, dtype=np.float32).copy())[None]


class ImageFolderDataset(Dataset):
    """Items: dict(image (3,S,S) in [0,1], mask (1,S,S) bool, has_mask, label, index[, depth (1,S,S)])."""

    def __init__(self, samples: Sequence[Sample], image_size: int, with_depth: bool = False) -> None:
        self.samples = list(samples)
        self.image_size = image_size
        self.with_depth = with_depth
        if with_depth:
            missing = [s.image for s in self.samples if s.depth is None]
            if missing:
                raise DatasetError(
                    missing[0],
                    f"no depth map for this image (and {len(missing) - 1} more); the model needs depth",
                )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        s = self.samples[index]
        size = self.image_size
        item = {
            "image": image_to_tensor(read_image(s.image), size),
            "mask": read_mask(s.mask, size) if s.mask else torch.zeros(1, size, size, dtype=torch.bool),
            "has_mask": torch.tensor(s.mask is not None or s.label == 0),
            "label": torch.tensor(s.label),
            "index": torch.tensor(index),
        }
        if self.with_depth:
            assert s.depth is not None, "a dataset with depth has a depth map per sample"
            item["depth"] = read_depth(s.depth, size)
        return item


def frame_size(samples: Sequence[Sample]) -> tuple[int, int] | None:
    """The (width, height) all images share, or None when they differ. Reads headers only."""
    sizes = set()
    for s in samples:
        try:
            with Image.open(s.image) as img:
                sizes.add(img.size)
        except (OSError, UnidentifiedImageError) as exc:
            raise DatasetError(s.image, f"cannot read image ({exc})") from exc
    return sizes.pop() if len(sizes) == 1 else None
