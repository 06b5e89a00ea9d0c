"""The MTS-Flow model file (`.rwmodel`): weights, normalization, localization baseline, the
normal statistics of the recommended preset's score, and a card with everything else
(architecture, signals, rate, padded length, preset, threshold, training).

The container (safetensors, a JSON card, the model id, refusing pickles) is rwcore's, shared
with the image models.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from os import PathLike
from typing import Any, Final, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from robotwatch.mtsflow.data import Normalizer
from robotwatch.mtsflow.network import FlowConfig, MTSFlow
from robotwatch.mtsflow.presets import Preset
from robotwatch.mtsflow.recommended_score import NormalStatistics, ScoreRule
from robotwatch.program import VORAUS_AD, Program
from rwcore.model_file import (
    ModelFileError,
    TrainingRecord,
    model_id,
    read_model_file,
    write_model_file,
)

FORMAT: Final = "robotwatch.mtsflow"
FORMAT_VERSION = 1
CARD_KEY = "robotwatch"
ID_PREFIX = "mtsflow"


class TrainingInfo(TrainingRecord):
    n_train_cycles: int
    n_calibration_cycles: int
    calibration_samples: list[int] = Field(
        default_factory=list, description="PRE_A cycles held out of training to set the threshold"
    )
    epochs: int
    batch_size: int
    learning_rate: float
    final_loss: float


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
    program: Program = Field(VORAUS_AD, description="the robot program the model was trained on")
    preset: Preset = Field(
        "thesis", description="thesis: the NLL of the whole cycle; recommended: its four parts' maximum"
    )
    score_rule: ScoreRule | None = Field(None, description="the recommended score's constants")
    training: TrainingInfo

    @model_validator(mode="before")
    @classmethod
    def _not_the_first_recommended_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and "local_rule" in data:
            raise ValueError(
                "this model was trained with the first recommended preset (whole cycle and worst "
                "stretch only), which this robotwatch no longer scores: train it again with "
                "--preset recommended"
            )
        return data


@dataclass
class TrainedModel:
    """A loaded or freshly trained MTS-Flow with all it needs to score raw cycles."""

    flow: MTSFlow
    normalizer: Normalizer
    card: ModelCard
    # Typical smoothed input-gradient magnitude per time step on normal cycles: the
    # yardstick for event strength in localization.
    gradient_baseline: np.ndarray
    # The recommended score's statistics of normal cycles; None: thesis preset.
    normal_stats: NormalStatistics | None = None

    @property
    def model_id(self) -> str:
        return self.card.model_id


def model_tensors(model: TrainedModel) -> dict[str, torch.Tensor]:
    """Everything but the card, as CPU tensors: what a model file holds, and what serve's
    scoring process is sent (robotwatch.stream.scoring_worker)."""
    tensors = {f"flow.{k}": v.detach().cpu() for k, v in model.flow.state_dict().items()}
    tensors["normalizer.mean"] = torch.from_numpy(model.normalizer.mean)
    tensors["normalizer.std"] = torch.from_numpy(model.normalizer.std)
    tensors["localization.gradient_baseline"] = torch.from_numpy(model.gradient_baseline.astype(np.float32))
    if model.normal_stats is not None:
        for f in fields(NormalStatistics):
            array = getattr(model.normal_stats, f.name).astype(np.float64)
            tensors[f"recommended_score.{f.name}"] = torch.from_numpy(array)
    return tensors


def save_model(model: TrainedModel, path: str | PathLike[str]) -> str:
    """Write the model file; returns its model id (also stored in the card)."""
    tensors = model_tensors(model)
    model.card = model.card.model_copy(update={"model_id": model_id(ID_PREFIX, tensors, model.card)})
    write_model_file(path, tensors, model.card, CARD_KEY)
    return model.card.model_id


def load_model(path: str | PathLike[str], device: str | torch.device = "cpu") -> TrainedModel:
    tensors, card = read_model_file(path, CARD_KEY, ModelCard)
    return from_tensors(tensors, card, path, device)


def from_tensors(
    tensors: dict[str, torch.Tensor],
    card: ModelCard,
    path: str | PathLike[str],
    device: str | torch.device = "cpu",
) -> TrainedModel:
    """The model that `model_tensors` and its card describe; `path` names where they came from
    in the ModelFileError that says what does not fit."""
    flow = MTSFlow(card.flow)
    state = {k.removeprefix("flow."): v for k, v in tensors.items() if k.startswith("flow.")}
    try:
        flow.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(path, f"weights do not fit the stored architecture: {exc}") from exc
    try:
        normalizer = Normalizer(
            mean=tensors["normalizer.mean"].numpy(), std=tensors["normalizer.std"].numpy()
        )
        baseline = tensors["localization.gradient_baseline"].numpy()
    except KeyError as exc:
        raise ModelFileError(path, f"lacks the tensor {exc}") from exc
    if len(normalizer.mean) != len(card.signals) or len(baseline) != card.padded_length:
        raise ModelFileError(path, "normalization or localization tensors do not match the model card")
    normal_stats = None
    if card.score_rule is not None:
        try:
            arrays = {
                f.name: tensors[f"recommended_score.{f.name}"].numpy() for f in fields(NormalStatistics)
            }
        except KeyError as exc:
            raise ModelFileError(path, f"has a recommended score but lacks the tensor {exc}") from exc
        for name, array in arrays.items():  # per step, or per signal (latent channel)
            if len(array) != (card.padded_length if name.startswith("step_") else len(card.signals)):
                raise ModelFileError(path, f"the recommended score's {name} does not match the model card")
        normal_stats = NormalStatistics(**arrays)
    flow.eval().to(device)
    return TrainedModel(
        flow=flow, normalizer=normalizer, card=card, gradient_baseline=baseline, normal_stats=normal_stats
    )
