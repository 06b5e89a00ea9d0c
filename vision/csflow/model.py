"""CS-Flow: the joint density of feature maps of the image at three scales.

The same backbone layer (stride 32 by default) is applied to the image at full, half and
quarter resolution. Four couplings transform the three maps together through
cross-scale convolutions; the output is Gaussian for normal images.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor

from vision.backbone import Backbone
from vision.config import CSFlowConfig
from vision.csflow.loss import csflow_loss, csflow_score
from vision.csflow.maps import csflow_map
from vision.csflow.subnet import CrossConvolutions
from vision.detector import Detector, Embedding, Prediction, TrainStage
from vision.flows.coupling import Flow, SubnetFactory, glow_flow
from vision.transforms import resize

SCALES = 3


def csflow_flow(channels: int, config: CSFlowConfig) -> Flow:
    """CS-Flow's flow over three scales of `channels`-channel feature maps."""

    def subnet(k: int) -> SubnetFactory:
        return partial(
            CrossConvolutions,
            hidden=config.hidden,
            kernel_size=config.kernel_sizes[k],
            leaky_slope=config.leaky_slope,
        )

    return glow_flow([channels] * SCALES, config.n_coupling_blocks, subnet, alpha=config.alpha)


class CSFlow(Detector):
    method = "csflow"

    def __init__(self, config: CSFlowConfig, backbone: Backbone) -> None:
        super().__init__(config, backbone)
        self.flow = csflow_flow(backbone.channels[config.feature_stride], config)

    def embed(self, images: Tensor, depth: Tensor | None = None) -> Embedding:
        c = self.config
        return {
            f"scale{s}": self.backbone(resize(images, c.image_size >> s), [c.feature_stride])[0]
            for s in range(SCALES)
        }

    def stages(self) -> list[TrainStage]:
        c = self.config
        return [
            TrainStage(
                "flow",
                list(self.flow.parameters()),
                c.epochs,
                c.lr,
                eps=1e-4,
                clip_grad_norm=c.clip_grad_norm,
            )
        ]

    def _maps(self, embedding: Embedding) -> list[Tensor]:
        return [embedding[f"scale{s}"] for s in range(SCALES)]

    def loss(self, embedding: Embedding, stage: str) -> Tensor:
        z, logdet = self.flow(self._maps(embedding))
        return csflow_loss(z, logdet)

    def forward(self, images: Tensor, depth: Tensor | None = None) -> Prediction:
        z, _ = self.flow(self._maps(self.embed(images)))
        return Prediction(csflow_score(z), csflow_map(z[0], self.config.image_size))
