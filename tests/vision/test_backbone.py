"""The backbone is the real ImageNet-trained EfficientNet-Lite0, frozen, from local files only."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from vision.backbone import Backbone, BackboneError, packaged_weights

MILITARY_UNIFORM = 652  # ImageNet class of the classic Grace Hopper test photo


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone()


def _grace_hopper(size: int = 224) -> torch.Tensor:
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    img = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]


def test_weights_are_the_real_imagenet_ones(backbone: Backbone) -> None:
    # A randomly initialised or wrongly loaded network cannot name this photo.
    with torch.no_grad():
        probs = backbone.classify(_grace_hopper()).softmax(-1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM
    assert float(probs[MILITARY_UNIFORM]) > 0.3


def test_feature_maps_at_strides_8_16_32(backbone: Backbone) -> None:
    assert backbone.stage_ends == {8: 4, 16: 10, 32: 14}
    with torch.no_grad():
        maps = backbone(torch.rand(2, 3, 128, 128), strides=(8, 16, 32))
    assert [tuple(m.shape) for m in maps] == [(2, 40, 16, 16), (2, 112, 8, 8), (2, 192, 4, 4)]


def test_backbone_stays_frozen_in_training_mode(backbone: Backbone) -> None:
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.net.training  # batch norms keep their ImageNet statistics
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = backbone(x)[0].clone()
        backbone(torch.rand(4, 3, 64, 64) * 5)
        after = backbone(x)[0]
    assert torch.equal(before, after)


def test_local_weights_file_gives_the_same_network(tmp_path: Path, backbone: Backbone) -> None:
    state = torch.load(packaged_weights(), map_location="cpu", weights_only=True)
    path = tmp_path / "lite0.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    local = Backbone("efficientnet-lite0", path)
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(local(x)[0], backbone(x)[0])
    assert local.spec.weights == str(path)


def test_bad_weights_are_refused_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match="not found"):
        Backbone("efficientnet-lite0", tmp_path / "missing.pth")
    state = torch.load(packaged_weights(), map_location="cpu", weights_only=True)
    wrong = tmp_path / "lite0.pth"
    torch.save(state, wrong)
    with pytest.raises(BackboneError, match=r"lite0\.pth: weights do not fit efficientnet-b3"):
        Backbone("efficientnet-b3", wrong)
    with pytest.raises(BackboneError, match="only efficientnet-lite0 ships with weights"):
        Backbone("efficientnet-b5")
