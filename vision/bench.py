"""Speed and memory of the three methods: frames per second at a given frame size (backbone
and flow, one frame at a time as the stream delivers them) and peak memory of training.

Training memory is measured in a fresh process per method, because a process's peak RSS
never goes down: measured in one process, later methods would inherit earlier peaks.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import BaseModel

from rwcore.device import pick_device
from vision.config import METHODS
from vision.models import build_detector


class MethodBench(BaseModel):
    frames_per_second: float
    frames: int
    train_peak_rss_mb: float | None = None
    train_images: int | None = None
    train_seconds_per_epoch: float | None = None


class BenchResult(BaseModel):
    image_size: int
    device: str
    threads: int
    methods: dict[str, MethodBench]


def _frames(image_size: int, n: int) -> list[torch.Tensor]:
    """Real frames of the synthetic cell camera, so the backbone sees realistic content."""
    from vision.simulate.render import table_texture
    from vision.simulate.writer import render_image

    table = table_texture(image_size, 0)
    rgb = [render_image(0, "test", "good", i, image_size, "place", table).rgb for i in range(n)]
    return [torch.from_numpy(x).permute(2, 0, 1).float() / 255 for x in rgb]


def frames_per_second(method: str, image_size: int, frames: list[torch.Tensor], device: str = "cpu") -> float:
    """Throughput of scoring (score and anomaly map) frame by frame. The weights do not change
    the amount of work, so an untrained model times the same as a trained one."""
    detector = build_detector(METHODS[method](image_size=image_size)).to(pick_device(device)).eval()
    depth = None
    with torch.no_grad():
        for frame in frames[:2]:  # warm-up: allocator and kernel selection
            detector(frame[None].to(detector.device), depth)
        if detector.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for frame in frames:
            detector(frame[None].to(detector.device), depth).anomaly_map.cpu()
        elapsed = time.perf_counter() - start
    return len(frames) / elapsed


HOLDOUT = 0.15


def training_memory(
    method: str, data: Path, image_size: int, device: str = "cpu"
) -> tuple[float, int, float]:
    """(peak RSS in MB, images trained on, seconds per epoch) of one epoch of training (and
    the threshold calibration after it) on `data`, in a fresh process."""
    code = (
        "import json, resource, sys; from pathlib import Path;"
        "from vision.config import METHODS; from vision.engine.fit import fit;"
        "logs = [];"
        f"_, meta = fit(Path(sys.argv[1]), METHODS[{method!r}](image_size={image_size}, epochs=1),"
        f" device={device!r}, holdout={HOLDOUT}, on_epoch=logs.append);"
        "print(json.dumps({'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " 'images': meta.training.images, 'epoch_s': sum(l.seconds for l in logs) / len(logs)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"training {method} for the memory measurement failed:\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["rss_kb"] / 1024, figures["images"], figures["epoch_s"]


def run_bench(
    methods: list[str],
    image_size: int = 384,
    frames: int = 20,
    train_images: int = 200,
    device: str = "cpu",
    log: Callable[[str], None] = lambda _msg: None,
) -> BenchResult:
    test_frames = _frames(image_size, frames)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cell"
        if train_images:
            from vision.simulate import simulate_dataset

            log(f"rendering {train_images} training frames at {image_size} px")
            # Enough that `train_images` remain for training after the held-out part.
            simulate_dataset(
                data,
                images=math.ceil(train_images / (1 - HOLDOUT)),
                size=image_size,
                test_per_defect=0,
                defects=(),
            )
        for method in methods:
            log(f"{method}: timing {frames} frames")
            bench = MethodBench(
                frames_per_second=frames_per_second(method, image_size, test_frames, device), frames=frames
            )
            if train_images:
                log(f"{method}: one training epoch on {train_images} images")
                rss, trained, epoch_s = training_memory(method, data, image_size, device)
                bench.train_peak_rss_mb, bench.train_images, bench.train_seconds_per_epoch = (
                    rss,
                    trained,
                    epoch_s,
                )
            results[method] = bench
    return BenchResult(
        image_size=image_size,
        device=str(pick_device(device)),
        threads=torch.get_num_threads(),
        methods=results,
    )
