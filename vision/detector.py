"""The contract of an image detector: what the trainer, the evaluator and the scorer rely on,
so that none of them needs to know which method (DifferNet, CS-Flow, AST) it runs.

Every detector MUST
- subclass `Detector` with a `method` name and take (config, backbone), refusing a config
  that asks for another backbone;
- `embed(images, depth)`: the frozen part of the computation (the backbone, and whatever
  does not change in training), returning an `Embedding` whose entries all have the batch
  as their first dimension;
- `stages()`: the training phases, each with its parameters, epochs and optimizer settings;
- `loss(embedding, stage)`: a scalar to minimize for that stage;
- `forward(images, depth)`: a `Prediction`, one score per image (higher = more anomalous)
  and an anomaly map (B, H, W) at the model's image size, with no gradient required;
- keep the backbone out of its saved weights (`flow_state_dict`), so that a model file
  holds only what training changed.

Every detector CAN
- set `augments = True` when training transforms the images (then embeddings are not
  cached between epochs) and override `augment`;
- need a depth map per image (`needs_depth`), which `check_depth` then enforces.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from vision.backbone import Backbone

Embedding = dict[str, Tensor]  # every entry has the batch as its first dimension


@dataclass
class Prediction:
    score: Tensor  # (B,)
    anomaly_map: Tensor  # (B, H, W) at the model's image size


@dataclass
class TrainStage:
    """One phase of training: which parameters, how to optimize them, for how long."""

    name: str
    parameters: list[nn.Parameter]
    epochs: int
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-5
    clip_grad_norm: float | None = None
    frozen: list[nn.Module] = field(default_factory=list)  # modules kept in eval mode during this stage


class Detector(nn.Module, metaclass=ABCMeta):
    """Base class of DifferNet, CS-Flow and AST."""

    method: str
    augments = False  # True: training transforms images, so embeddings cannot be cached

    def __init__(self, config, backbone: Backbone) -> None:
        super().__init__()
        if backbone.spec.arch != config.backbone:
            raise ValueError(f"config asks for backbone {config.backbone}, got {backbone.spec.arch}")
        self.config = config
        self.backbone = backbone

    @property
    def needs_depth(self) -> bool:
        return False

    def augment(self, images: Tensor) -> Tensor:
        """Training-time transforms (identity unless the method augments)."""
        return images

    @abstractmethod
    def embed(self, images: Tensor, depth: Tensor | None = None) -> Embedding: ...

    @abstractmethod
    def stages(self) -> list[TrainStage]: ...

    @abstractmethod
    def loss(self, embedding: Embedding, stage: str) -> Tensor: ...

    @abstractmethod
    def forward(self, images: Tensor, depth: Tensor | None = None) -> Prediction: ...

    def flow_state_dict(self) -> dict[str, Tensor]:
        """The trained weights: everything but the backbone, which comes from its own file."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("backbone.")}

    def load_flow_state_dict(self, state: dict[str, Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("backbone.")]
        if missing or unexpected:
            raise ValueError(
                f"weights do not fit the {self.method} model: missing {missing}, unexpected {unexpected}"
            )

    def check_depth(self, depth: Tensor | None) -> None:
        if self.needs_depth and depth is None:
            raise ValueError(f"this {self.method} model was trained with depth maps and needs one per image")

    @property
    def device(self) -> torch.device:
        return self.backbone.mean.device
