"""The model file: one safetensors file holding weights, normalization, threshold and config.

safetensors stores raw tensors plus a string-to-string header, so loading a model never
executes code from the file (a pickle, which `torch.load` would run, is refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from robotwatch.model import FlowConfig, MTSFlow
from robotwatch.preprocessing import Normalizer

FORMAT = "robotwatch.mtsflow"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")


class TrainingInfo(BaseModel):
    data: str
    n_train_cycles: int
    n_calibration_cycles: int
    calibration_samples: list[int] = Field(
        default_factory=list, description="PRE_A cycles held out of training to set the threshold"
    )
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    final_loss: float
    seconds: float
    device: str
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class ModelCard(BaseModel):
    """Everything about a model that is not a tensor."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["robotwatch.mtsflow"] = FORMAT
    format_version: int = FORMAT_VERSION
    model_id: str = ""
    flow: FlowConfig
    signals: list[str]
    sample_rate_hz: float
    padded_length: int
    threshold: float
    target_fpr: float
    calibration_scores: list[float] = Field(description="scores of the held-out normal cycles")
    training: TrainingInfo


@dataclass
class TrainedModel:
    """A loaded or freshly trained MTS-Flow with all it needs to score raw cycles."""

    flow: MTSFlow
    normalizer: Normalizer
    card: ModelCard
    # Typical smoothed input-gradient magnitude per time step on normal cycles: the
    # yardstick for event strength in localization.
    gradient_baseline: np.ndarray

    @property
    def model_id(self) -> str:
        return self.card.model_id


def _tensors(model: TrainedModel) -> dict[str, torch.Tensor]:
    tensors = {f"flow.{k}": v.detach().cpu().contiguous() for k, v in model.flow.state_dict().items()}
    tensors["normalizer.mean"] = torch.from_numpy(model.normalizer.mean)
    tensors["normalizer.std"] = torch.from_numpy(model.normalizer.std)
    tensors["localization.gradient_baseline"] = torch.from_numpy(model.gradient_baseline.astype(np.float32))
    return tensors


def model_id_of(model: TrainedModel) -> str:
    """Deterministic id from the tensors and the card: the same model always gets the same id."""
    digest = hashlib.sha256()
    for name, tensor in sorted(_tensors(model).items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    digest.update(model.card.model_dump_json(exclude={"model_id", "training"}).encode())
    return f"mtsflow-{digest.hexdigest()[:12]}"


def save_model(model: TrainedModel, path: str | PathLike[str]) -> str:
    """Write the model file; returns its model id (also stored in the card)."""
    model.card = model.card.model_copy(update={"model_id": model_id_of(model)})
    save_file(_tensors(model), str(path), metadata={"robotwatch": model.card.model_dump_json()})
    return model.card.model_id


def _refuse_foreign(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(8)
    if head[:2] == b"PK":
        raise ModelFileError(path, "is a zip archive (torch.save?), not a robotwatch model file; "
                                   "robotwatch loads only safetensors files, which cannot run code")
    if head[:1] == b"\x80":
        raise ModelFileError(path, "is a pickle, not a robotwatch model file; robotwatch refuses "
                                   "pickles because loading them can run arbitrary code")


def load_model(path: str | PathLike[str], device: str | torch.device = "cpu") -> TrainedModel:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such model file")
    _refuse_foreign(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, f"is not a readable safetensors model file ({exc})") from exc
    if "robotwatch" not in header:
        raise ModelFileError(path, "is a safetensors file without a robotwatch model card")
    try:
        card = ModelCard.model_validate(json.loads(header["robotwatch"]))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"has an invalid model card: {exc}") from exc
    flow = MTSFlow(card.flow)
    state = {k.removeprefix("flow."): v for k, v in tensors.items() if k.startswith("flow.")}
    try:
        flow.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(path, f"weights do not fit the stored architecture: {exc}") from exc
    try:
        normalizer = Normalizer(mean=tensors["normalizer.mean"].numpy(), std=tensors["normalizer.std"].numpy())
        baseline = tensors["localization.gradient_baseline"].numpy()
    except KeyError as exc:
        raise ModelFileError(path, f"lacks the tensor {exc}") from exc
    if len(normalizer.mean) != len(card.signals) or len(baseline) != card.padded_length:
        raise ModelFileError(path, "normalization or localization tensors do not match the model card")
    flow.eval().to(device)
    return TrainedModel(flow=flow, normalizer=normalizer, card=card, gradient_baseline=baseline)
