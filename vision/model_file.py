"""The image model file: the trained weights (everything but the backbone, which comes from its
own file) and, as its card, the method config, backbone, frame size, thresholds and training
record. The container (safetensors, a JSON card, the model id, refusing pickles) is rwcore's,
shared with MTS-Flow.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from rwcore.device import pick_device
from rwcore.model_file import (
    ModelFileError,
    TrainingRecord,
    model_id,
    read_card,
    read_model_file,
    write_model_file,
)
from vision.backbone import BackboneSpec
from vision.config import MethodConfig
from vision.detector import Detector
from vision.engine.thresholds import Thresholds

FORMAT = "robotwatch.vision.model/2"
CARD_KEY = "robotwatch.vision"

__all__ = ["ModelFileError", "ModelMeta", "TrainingInfo", "load_model", "read_meta", "save_model"]


class TrainingInfo(TrainingRecord):
    images: int
    epochs: dict[str, int]
    final_loss: dict[str, float]


class ModelMeta(BaseModel):
    format: str = FORMAT
    model_id: str = ""
    config: MethodConfig
    backbone: BackboneSpec
    frame_size: tuple[int, int] | None = Field(
        description="(width, height) of the training images, if all equal"
    )
    thresholds: Thresholds
    training: TrainingInfo


def save_model(path: Path, detector: Detector, meta: ModelMeta) -> Path:
    """Write the model file; `meta.model_id` is set to the id of these weights and settings."""
    tensors = detector.flow_state_dict()
    meta.model_id = model_id(meta.config.method, tensors, meta)
    write_model_file(path, tensors, meta, CARD_KEY)
    return Path(path)


def _checked(meta: ModelMeta, path: Path) -> ModelMeta:
    if meta.format != FORMAT:
        raise ModelFileError(path, f"model format {meta.format!r}; this version reads {FORMAT!r}")
    return meta


def read_meta(path: Path) -> ModelMeta:
    return _checked(read_card(path, CARD_KEY, ModelMeta), path)


def load_model(
    path: Path, device: str = "auto", backbone_weights: Path | None = None
) -> tuple[Detector, ModelMeta]:
    """The detector in eval mode on `device`, and its metadata.

    The backbone is rebuilt from the package (Lite0) or from `backbone_weights`, else from the
    path recorded at training; its SHA-256 must match the one recorded, so a model never runs
    on other backbone weights than it was trained on.
    """
    from vision.backbone import Backbone, BackboneError
    from vision.models import DETECTORS

    path = Path(path)
    tensors, meta = read_model_file(path, CARD_KEY, ModelMeta)
    _checked(meta, path)
    spec = meta.backbone
    weights = backbone_weights or (Path(spec.weights) if spec.weights else None)
    try:
        backbone = Backbone(spec.arch, weights)
    except BackboneError as exc:
        raise ModelFileError(path, f"cannot rebuild the backbone this model was trained with: {exc}") from exc
    expected, found = spec.sha256, backbone.spec.sha256 or ""
    if expected and found != expected:
        raise ModelFileError(
            path,
            f"backbone weights differ from those used in training "
            f"(sha256 {found[:12]}…, expected {expected[:12]}…)",
        )
    detector = DETECTORS[meta.config.method](meta.config, backbone)
    try:
        detector.load_flow_state_dict(tensors)
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from exc
    return detector.to(pick_device(device)).eval(), meta
