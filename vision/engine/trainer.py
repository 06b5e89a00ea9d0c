"""One training loop for every method.

A method describes its training as stages (CS-Flow and DifferNet: the flow; AST: the teacher,
then the student). Methods that do not augment have their backbone features computed once
and cached on the CPU, because the backbone is frozen and dominates the cost; DifferNet
transforms every image anew each epoch, so it runs the backbone every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from rwcore.errors import UserError
from vision.datasets import ImageFolderDataset
from vision.detector import Detector, Embedding, TrainStage
from vision.engine.predict import loader


class TrainingError(UserError):
    pass


@dataclass
class EpochLog:
    stage: str
    epoch: int  # from 1
    epochs: int
    loss: float
    seconds: float


def _concat(parts: list[Embedding]) -> Embedding:
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


@torch.no_grad()
def _embed(detector: Detector, images: torch.Tensor, depth: torch.Tensor | None, chunk: int) -> Embedding:
    # Small backbone batches are faster on a CPU: large activations fall out of the cache.
    if depth is None:
        return _concat([detector.embed(x) for x in images.split(chunk)])
    return _concat(
        [detector.embed(x, d) for x, d in zip(images.split(chunk), depth.split(chunk), strict=True)]
    )


def _embed_all(detector: Detector, dataset: ImageFolderDataset, chunk: int, workers: int) -> Embedding:
    device = detector.device
    parts = []
    for batch in loader(dataset, chunk, workers):
        depth = batch["depth"].to(device) if "depth" in batch else None
        parts.append(
            {k: v.cpu() for k, v in _embed(detector, batch["image"].to(device), depth, chunk).items()}
        )
    return _concat(parts)


def _batches(
    detector: Detector,
    dataset: ImageFolderDataset,
    cache: Embedding | None,
    chunk: int,
    workers: int,
    generator: torch.Generator,
):
    device = detector.device
    batch_size = detector.config.batch_size
    if cache is not None:
        n = len(next(iter(cache.values())))
        for idx in torch.randperm(n, generator=generator).split(batch_size):
            yield {k: v[idx].to(device) for k, v in cache.items()}
        return
    seed = int(torch.randint(1 << 31, (1,), generator=generator))
    for batch in loader(dataset, batch_size, workers, shuffle=True, seed=seed):
        images = detector.augment(batch["image"].to(device))
        depth = batch["depth"].to(device) if "depth" in batch else None
        if depth is not None and len(depth) != len(images):  # augmented copies share their image's depth
            depth = depth.repeat_interleave(len(images) // len(depth), dim=0)
        yield _embed(detector, images, depth, chunk)


def _run_stage(
    detector: Detector, stage: TrainStage, batches: Callable, on_epoch: Callable[[EpochLog], None] | None
) -> list[EpochLog]:
    optimizer = torch.optim.Adam(
        stage.parameters, lr=stage.lr, betas=stage.betas, eps=stage.eps, weight_decay=stage.weight_decay
    )
    logs = []
    for epoch in range(1, stage.epochs + 1):
        start, total, count = time.perf_counter(), 0.0, 0
        detector.train()
        for module in stage.frozen:
            module.eval()
        for embedding in batches():
            loss = detector.loss(embedding, stage.name)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"{detector.method} {stage.name}: loss became {loss.item()} in epoch {epoch}; "
                    "try a lower learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if stage.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(stage.parameters, stage.clip_grad_norm)
            optimizer.step()
            total, count = total + loss.item(), count + 1
        log = EpochLog(stage.name, epoch, stage.epochs, total / max(count, 1), time.perf_counter() - start)
        logs.append(log)
        if on_epoch is not None:
            on_epoch(log)
    detector.eval()
    return logs


def train(
    detector: Detector,
    dataset: ImageFolderDataset,
    seed: int = 0,
    workers: int = 0,
    embed_batch: int = 4,
    on_epoch: Callable[[EpochLog], None] | None = None,
) -> list[EpochLog]:
    """Train `detector` (already on its device) on the normal images of `dataset`."""
    if len(dataset) == 0:
        raise TrainingError("no training images")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    cache = None if detector.augments else _embed_all(detector, dataset, embed_batch, workers)
    logs = []
    for stage in detector.stages():
        logs += _run_stage(
            detector,
            stage,
            lambda: _batches(detector, dataset, cache, embed_batch, workers, generator),
            on_epoch,
        )
    return logs
