"""DifferNet: the density of globally pooled features of three image scales.

The backbone's features of the image at full, half and quarter resolution are averaged over
space and concatenated into one vector per image. Eight fully connected affine couplings map
it to a Gaussian. Training sees randomly rotated (and for textures colour-jittered) copies;
the score averages the likelihood-based score over fixed test-time rotations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vision.backbone import Backbone
from vision.config import DifferNetConfig
from vision.detector import Detector, Embedding, Prediction, TrainStage
from vision.differnet.loss import differnet_loss, differnet_score
from vision.differnet.maps import gradient_map
from vision.flows.coupling import Flow, SubnetFactory, glow_flow
from vision.transforms import color_jitter, resize, rotate


class FullyConnectedSubnet(nn.Module):
    """Scale and shift from the other half of the vector: Linear → ReLU → Linear.

    The last layer starts at zero, so each coupling starts as the identity (as Glow does, and
    as CS-Flow's γ = 0 does): with default initialization the eight couplings can each scale
    by e^α at once and the first losses are astronomically large on backbone features.
    """

    def __init__(self, size_in: int, size_out: int, hidden: int) -> None:
        super().__init__()
        last = nn.Linear(hidden, size_out)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Linear(size_in, hidden), nn.ReLU(), last)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        return [self.net(xs[0])]


def differnet_flow(dim: int, config: DifferNetConfig) -> Flow:
    """DifferNet's flow over pooled feature vectors of `dim` channels."""

    def subnet(_k: int) -> SubnetFactory:
        return lambda ins, outs: FullyConnectedSubnet(ins[0], outs[0], config.hidden)

    return glow_flow([dim], config.n_coupling_blocks, subnet, alpha=config.alpha)


class DifferNet(Detector):
    method = "differnet"
    augments = True

    def __init__(self, config: DifferNetConfig, backbone: Backbone) -> None:
        super().__init__(config, backbone)
        self.dim = backbone.channels[config.feature_stride] * config.n_scales
        self.flow = differnet_flow(self.dim, config)

    def augment(self, images: Tensor) -> Tensor:
        c = self.config
        x = images.repeat_interleave(c.train_transforms, dim=0)
        if c.rotation:
            x = rotate(x, (torch.rand(len(x), device=x.device) * 2 - 1) * c.rotation)
        if c.brightness or c.contrast or c.saturation:
            x = color_jitter(x, c.brightness, c.contrast, c.saturation)
        return x

    def embed(self, images: Tensor, depth: Tensor | None = None) -> Embedding:
        c = self.config
        pooled = []
        for s in range(c.n_scales):
            scaled = resize(images, c.image_size >> s)
            (features,) = self.backbone(scaled, [c.feature_stride])
            pooled.append(features.mean(dim=(2, 3)))
        return {"features": torch.cat(pooled, dim=1)}

    def stages(self) -> list[TrainStage]:
        c = self.config
        # DifferNet's optimizer: Adam with betas (0.8, 0.8), eps 1e-4, weight decay 1e-5.
        return [TrainStage("flow", list(self.flow.parameters()), c.epochs, c.lr, betas=(0.8, 0.8), eps=1e-4)]

    def loss(self, embedding: Embedding, stage: str) -> Tensor:
        return differnet_loss(self.flow, embedding["features"])

    def eval_angles(self) -> Tensor:
        """The fixed test-time rotations: evenly spaced over the training range."""
        c = self.config
        n = c.test_transforms if c.rotation else 1
        if c.rotation >= 180:
            return torch.arange(n) * (360.0 / n)
        return torch.linspace(-c.rotation, c.rotation, n) if n > 1 else torch.zeros(1)

    def forward(self, images: Tensor, depth: Tensor | None = None) -> Prediction:
        scores, maps = [], []
        for angle in self.eval_angles().tolist():
            # The map needs the input gradient, so grad is on even when the caller scores under no_grad.
            with torch.enable_grad():
                turned = rotate(images, images.new_full((len(images),), angle)).requires_grad_(True)
                z, _ = self.flow([self.embed(turned)["features"]])
                score = differnet_score(z[0])
                (grad,) = torch.autograd.grad(score.sum(), turned)
            scores.append(score.detach())
            maps.append(gradient_map(grad, angle, self.config.map_sigma))
        return Prediction(torch.stack(scores).mean(0), torch.stack(maps).mean(0))
