"""The model file: one safetensors file holding the trained weights and, in its header, the
metadata as JSON (method config, backbone, frame size, thresholds, training summary).

safetensors is a flat header of tensor offsets plus raw bytes: reading it cannot execute
code. The loader checks that a file really is one before handing it to the library, so a
pickle (`torch.save`) or anything else is refused with a clear error instead.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from vision.backbone import BackboneSpec
from vision.config import MethodConfig
from vision.detector import Detector
from vision.engine.device import resolve_device
from vision.engine.thresholds import Thresholds

FORMAT = "robotwatch.vision.model/1"
_META_KEY = "robotwatch.vision"
_MAX_HEADER = 100 * 1024 * 1024


class ModelFileError(ValueError):
    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {problem}")


class TrainingInfo(BaseModel):
    data: str
    images: int
    epochs: dict[str, int]
    final_loss: dict[str, float]
    seconds: float
    seed: int
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class ModelMeta(BaseModel):
    format: str = FORMAT
    config: MethodConfig
    backbone: BackboneSpec
    frame_size: tuple[int, int] | None = Field(
        description="(width, height) of the training images, if all equal"
    )
    thresholds: Thresholds
    training: TrainingInfo


def save_model(path: Path, detector: Detector, meta: ModelMeta) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in detector.flow_state_dict().items()}
    save_file(tensors, str(path), metadata={_META_KEY: meta.model_dump_json()})
    return path


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file, saying what it looks like instead."""
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise ModelFileError(path, f"cannot read model file ({exc})") from exc
    if len(head) == 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if header_len <= min(_MAX_HEADER, path.stat().st_size - 8) and head[8:9] == b"{":
            return
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save's zip, or a raw pickle
        raise ModelFileError(
            path,
            "this is a pickle (e.g. written by torch.save), not a robotwatch vision model; "
            "it is refused because loading a pickle can execute code",
        )
    raise ModelFileError(path, "not a robotwatch vision model file (no safetensors header)")


def read_meta(path: Path) -> ModelMeta:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "model file not found")
    _check_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as exc:
        raise ModelFileError(path, f"corrupt safetensors file ({exc})") from exc
    if _META_KEY not in header:
        raise ModelFileError(path, "a safetensors file, but without robotwatch vision metadata")
    try:
        meta = ModelMeta.model_validate(json.loads(header[_META_KEY]))
    except (ValueError, ValidationError) as exc:
        raise ModelFileError(path, f"invalid metadata ({exc})") from exc
    if meta.format != FORMAT:
        raise ModelFileError(path, f"model format {meta.format!r}; this version reads {FORMAT!r}")
    return meta


def load_model(
    path: Path, device: str = "auto", backbone_weights: Path | None = None
) -> tuple[Detector, ModelMeta]:
    """The detector in eval mode on `device`, and its metadata.

    The backbone is rebuilt from the package (Lite0) or from `backbone_weights`, else from the
    path recorded at training; its SHA-256 must match the one recorded, so a model never runs
    on other backbone weights than it was trained on.
    """
    from safetensors.torch import load_file

    from vision.backbone import Backbone, BackboneError
    from vision.models import DETECTORS

    path = Path(path)
    meta = read_meta(path)
    spec = meta.backbone
    weights = backbone_weights or (Path(spec.weights) if spec.weights else None)
    try:
        backbone = Backbone(spec.arch, weights)
    except BackboneError as exc:
        raise ModelFileError(path, f"cannot rebuild the backbone this model was trained with: {exc}") from exc
    if spec.sha256 and backbone.spec.sha256 != spec.sha256:
        raise ModelFileError(
            path,
            f"backbone weights differ from those used in training (sha256 {backbone.spec.sha256[:12]}…, expected {spec.sha256[:12]}…)",
        )
    detector = DETECTORS[meta.config.method](meta.config, backbone)
    try:
        detector.load_flow_state_dict(load_file(str(path)))
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from exc
    return detector.to(resolve_device(device)).eval(), meta
