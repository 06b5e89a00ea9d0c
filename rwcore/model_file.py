"""The model file of every robotwatch model: one safetensors file with a JSON card.

safetensors stores raw tensors behind a small JSON header of offsets; robotwatch puts the
model's card (architecture, signals or image size, thresholds, training record, model id)
into that header under a key naming the kind of model. Reading such a file cannot execute
code; a pickle (what `torch.save` writes) is refused before any library looks at it.

The model id is a hash of the tensors and of the card without its training record, so the
same weights and settings always get the same id, on every machine, and a file whose
tensors were changed no longer matches the id it carries.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import torch
from pydantic import BaseModel, Field, ValidationError

from rwcore.errors import UserError, validation_problems

_MAX_HEADER_BYTES = 100 * 2**20
Card = TypeVar("Card", bound=BaseModel)


class ModelFileError(UserError):
    """A model file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | PathLike[str], problem: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {problem}")


class TrainingRecord(BaseModel):
    """What every model records about its training; each kind adds its own fields."""

    data: str = Field(description="the training data's file or folder name")
    seed: int
    seconds: float
    device: str = "cpu"
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def model_id(prefix: str, tensors: Mapping[str, torch.Tensor], card: BaseModel | Mapping[str, Any]) -> str:
    """`prefix-<12 hex>` from the tensors and the card as stored, leaving out its id and
    training record. The card is hashed as sorted JSON of what the file holds, so a card
    field added later (with a default) does not change the id of an older file."""
    stored = card.model_dump(mode="json") if isinstance(card, BaseModel) else dict(card)
    content = {k: v for k, v in stored.items() if k not in ("model_id", "training")}
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    digest.update(json.dumps(content, sort_keys=True, separators=(",", ":")).encode())
    return f"{prefix}-{digest.hexdigest()[:12]}"


def write_model_file(
    path: str | PathLike[str], tensors: Mapping[str, torch.Tensor], card: BaseModel, key: str
) -> None:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    save_file(plain, str(path), metadata={key: card.model_dump_json()})


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file, saying what it looks like instead."""
    if not path.is_file():
        raise ModelFileError(path, "no such model file")
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read ({exc})") from exc
    if len(head) == 9:
        (header_bytes,) = struct.unpack("<Q", head[:8])
        if header_bytes <= min(_MAX_HEADER_BYTES, path.stat().st_size - 8) and head[8:9] == b"{":
            return
    refused = "it is refused because loading a pickle can execute code"
    if head[:2] == b"PK":
        raise ModelFileError(
            path, f"is a zip archive holding a pickle (torch.save?), not a model file; {refused}"
        )
    if head[:1] == b"\x80":
        raise ModelFileError(path, f"is a pickle, not a robotwatch model file; {refused}")
    raise ModelFileError(path, "is not a robotwatch model file (no safetensors header)")


def read_card(path: str | PathLike[str], key: str, card_type: type[Card]) -> Card:
    """The card alone, without reading the tensors."""
    return card_type.model_validate(_stored_card(path, key, card_type))


def _stored_card(path: str | PathLike[str], key: str, card_type: type[BaseModel]) -> dict[str, Any]:
    """The card as the file holds it (checked against `card_type`)."""
    from safetensors import safe_open

    path = Path(path)
    _check_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own and several builtin types
        raise ModelFileError(path, f"is a corrupt safetensors file ({exc})") from exc
    if key not in header:
        found = ", ".join(sorted(header)) or "none"
        raise ModelFileError(path, f"is a safetensors file without a {key} model card (cards found: {found})")
    try:
        stored = json.loads(header[key])
        card_type.model_validate(stored)
    except json.JSONDecodeError as exc:
        raise ModelFileError(path, f"has an invalid model card: {exc}") from exc
    except ValidationError as exc:
        raise ModelFileError(path, f"has an invalid model card: {validation_problems(exc)}") from exc
    if not isinstance(stored, dict):
        raise ModelFileError(path, "has an invalid model card: not a JSON object")
    return stored


def read_model_file(
    path: str | PathLike[str], key: str, card_type: type[Card]
) -> tuple[dict[str, torch.Tensor], Card]:
    """Tensors and card of a model file; the card's `model_id`, when it has one, must match."""
    from safetensors.torch import load_file

    stored = _stored_card(path, key, card_type)
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise ModelFileError(path, f"is a corrupt safetensors file ({exc})") from exc
    saved_as = stored.get("model_id") or ""
    if saved_as and model_id(saved_as.rsplit("-", 1)[0], tensors, stored) != saved_as:
        raise ModelFileError(path, f"its tensors or card were changed after it was saved as {saved_as}")
    return tensors, card_type.model_validate(stored)
