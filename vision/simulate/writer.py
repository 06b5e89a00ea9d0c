"""Write a synthetic cell-camera dataset in the MVTec AD layout, with masks and depth maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from vision.simulate.render import render, table_texture
from vision.simulate.scene import DEFECTS, Pose, normal_scene, with_defect


class SimulationSummary(BaseModel):
    root: str
    pose: Pose
    size: int
    seed: int
    counts: dict[str, int]  # "train/good", "test/good", "test/<defect>" → number of images


def _rng(seed: int, split: str, defect: str, index: int) -> np.random.Generator:
    # One generator per image, so any image can be regenerated alone and the order never matters.
    keys = [seed, ["train", "test"].index(split), (("good", *DEFECTS)).index(defect), index]
    return np.random.default_rng(keys)


def render_image(seed: int, split: str, defect: str, index: int, size: int, pose: Pose, table: np.ndarray):
    rng = _rng(seed, split, defect, index)
    scene = normal_scene(rng, size, pose)
    if defect != "good":
        scene = with_defect(scene, defect, rng)
    return render(scene, table, rng)


def simulate_dataset(
    out: Path,
    images: int = 200,
    seed: int = 0,
    size: int = 384,
    pose: Pose = "place",
    test_per_defect: int | None = None,
    defects: Sequence[str] = DEFECTS,
) -> SimulationSummary:
    """`images` normal training images; the test set has `test_per_defect` images of each
    defect type (default: a tenth of `images`, at least 4) and twice as many normal ones."""
    unknown = set(defects) - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defect types {sorted(unknown)}; known: {', '.join(DEFECTS)}")
    out = Path(out)
    per_defect = test_per_defect if test_per_defect is not None else max(4, images // 10)
    table = table_texture(size, seed)
    plan = [("train", "good", images), ("test", "good", 2 * per_defect)] + [
        ("test", d, per_defect) for d in defects
    ]
    counts = {}
    for split, defect, n in plan:
        folder = out / split / defect
        folder.mkdir(parents=True, exist_ok=True)
        (out / "depth" / split / defect).mkdir(parents=True, exist_ok=True)
        if defect != "good":
            (out / "ground_truth" / defect).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            frame = render_image(seed, split, defect, i, size, pose, table)
            name = f"{i:03d}"
            Image.fromarray(frame.rgb).save(folder / f"{name}.png")
            Image.fromarray(frame.depth_mm).save(out / "depth" / split / defect / f"{name}.png")
            if defect != "good":
                Image.fromarray((frame.mask * 255).astype(np.uint8)).save(
                    out / "ground_truth" / defect / f"{name}_mask.png"
                )
        counts[f"{split}/{defect}"] = n
    return SimulationSummary(root=str(out), pose=pose, size=size, seed=seed, counts=counts)
