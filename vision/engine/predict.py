"""Run a detector over a dataset in batches, without gradients except where a method needs them."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader

from vision.datasets import ImageFolderDataset
from vision.detector import Detector, Prediction


def loader(
    dataset: ImageFolderDataset, batch_size: int, workers: int = 0, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, generator=generator
    )


def predict_batches(
    detector: Detector, dataset: ImageFolderDataset, batch_size: int = 4, workers: int = 0
) -> Iterator[tuple[dict[str, torch.Tensor], Prediction]]:
    """Yields (batch, prediction) with the prediction on the CPU."""
    detector.eval()
    device = detector.device
    for batch in loader(dataset, batch_size, workers):
        depth = batch["depth"].to(device) if "depth" in batch else None
        with torch.no_grad():
            pred = detector(batch["image"].to(device), depth)
        yield batch, Prediction(pred.score.float().cpu(), pred.anomaly_map.float().cpu())
