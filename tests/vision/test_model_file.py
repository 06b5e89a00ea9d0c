"""The model file: everything needed to score in one safetensors file, and nothing executable."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vision.backbone import BackboneSpec
from vision.config import CSFlowConfig
from vision.engine.thresholds import Thresholds
from vision.model_file import ModelFileError, ModelMeta, TrainingInfo, load_model, read_meta, save_model
from vision.models import build_detector


def _meta(detector) -> ModelMeta:
    return ModelMeta(
        config=detector.config,
        backbone=detector.backbone.spec,
        frame_size=(96, 80),
        thresholds=Thresholds(score=1.5, map=2.5, target_fpr=0.01, n_normal=7),
        training=TrainingInfo(
            data="cell", images=10, epochs={"flow": 1}, final_loss={"flow": 0.5}, seconds=1.0, seed=0
        ),
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory):
    torch.manual_seed(0)
    detector = build_detector(CSFlowConfig(image_size=128, hidden=16))
    with torch.no_grad():  # away from the identity, so that a wrong load would show
        for p in detector.flow.parameters():
            p.add_(0.05 * torch.randn_like(p))
    detector.eval()
    path = save_model(tmp_path_factory.mktemp("m") / "model.safetensors", detector, _meta(detector))
    return detector, path


def test_round_trip_gives_the_same_scores_and_metadata(saved) -> None:
    detector, path = saved
    loaded, meta = load_model(path, device="cpu")
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        a, b = detector(x), loaded(x)
    assert torch.equal(a.score, b.score) and torch.equal(a.anomaly_map, b.anomaly_map)
    assert meta.frame_size == (96, 80) and meta.thresholds.score == 1.5 and meta.config.hidden == 16
    assert not any(
        k.startswith("backbone.") for k in detector.flow_state_dict()
    )  # the backbone comes from its package


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_pickle_is_refused_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for name, write in [
        ("torch.pt", lambda p: torch.save({"x": _Exploit(marker)}, p)),
        ("plain.pkl", lambda p: p.write_bytes(pickle.dumps(_Exploit(marker)))),
    ]:
        path = tmp_path / name
        write(path)
        assert not marker.exists()
        with pytest.raises(ModelFileError, match=r"pickle.*refused"):
            load_model(path, device="cpu")
        assert not marker.exists()


def test_other_files_are_refused_with_the_reason(tmp_path: Path, saved) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(
        ModelFileError,
        match=r"garbage\.safetensors: (is a corrupt safetensors|is not a robotwatch model) file",
    ):
        read_meta(garbage)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ModelFileError, match=r"without a robotwatch\.vision model card"):
        read_meta(plain)
    with pytest.raises(ModelFileError, match="no such model file"):
        read_meta(tmp_path / "nope.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(saved[1].read_bytes()[:5000])
    with pytest.raises(ModelFileError):
        load_model(truncated, device="cpu")


def test_other_backbone_weights_than_in_training_are_refused(tmp_path: Path, saved) -> None:
    detector, _ = saved
    meta = _meta(detector)
    meta.backbone = BackboneSpec(arch="efficientnet-lite0", sha256="0" * 64)
    path = save_model(tmp_path / "m.safetensors", detector, meta)
    with pytest.raises(ModelFileError, match="backbone weights differ"):
        load_model(path, device="cpu")
