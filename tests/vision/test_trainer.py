"""The one training loop: stages in order, frozen modules stay frozen, losses go down."""

from __future__ import annotations

from pathlib import Path

import torch

from vision.config import ASTConfig
from vision.datasets import ImageFolderDataset, scan_split
from vision.engine.trainer import train
from vision.models import build_detector


def test_ast_trains_teacher_then_student_and_the_student_stage_leaves_the_teacher_alone(cell: Path) -> None:
    torch.manual_seed(0)
    config = ASTConfig(image_size=128, epochs=4, teacher_hidden=16, student_hidden=32, student_blocks=1)
    detector = build_detector(config)
    dataset = ImageFolderDataset(scan_split(cell, "train")[:12], 128)
    snapshot: dict[str, torch.Tensor] = {}

    def on_epoch(log) -> None:
        if log.stage == "teacher" and log.epoch == log.epochs:
            snapshot.update({k: v.clone() for k, v in detector.teacher.state_dict().items()})

    logs = train(detector, dataset, on_epoch=on_epoch)
    assert [(log.stage, log.epoch) for log in logs] == [("teacher", e) for e in range(1, 5)] + [
        ("student", e) for e in range(1, 5)
    ]
    for stage in ("teacher", "student"):
        losses = [log.loss for log in logs if log.stage == stage]
        assert losses[-1] < losses[0], f"{stage} loss did not decrease: {losses}"
    after = detector.teacher.state_dict()
    assert all(torch.equal(after[k], v) for k, v in snapshot.items())
    assert not detector.training  # handed back in eval mode
