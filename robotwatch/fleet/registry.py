"""Which model scores which robot (docs/architecture.md §9), and swapping models without a restart.

The registry is one of: a single model for every robot; `[models]` in the TOML, robot-id
globs to model files (the most specific match wins: an exact id, then the glob with the most
literal characters; `default` matches every robot); or a directory where
`DIR/<robot>.rwmodel` wins over `DIR/default.rwmodel`.

A model file is replaced by writing the new file beside it and renaming it over the old one
(`mv new.rwmodel cell7.rwmodel`): the rename is atomic, so serve never reads half a file. Serve
notices the change (or a SIGHUP), loads and checks the new file off the event loop (it loads,
its card fits, it scores a cycle), and swaps it in between cycles; a file that fails the check
leaves the old model in place and says why in /readyz.
"""

from __future__ import annotations

import fnmatch
import itertools
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from robotwatch.mtsflow.model_file import TrainedModel, load_model
from robotwatch.mtsflow.score import Scorer
from robotwatch.naming import safe_name
from robotwatch.stream.signal_frame import signal_list_id
from rwcore.model_file import ModelFileError

DEFAULT = "default"
SUFFIX = ".rwmodel"
Signature = tuple[int, int, int]  # inode, size, mtime (ns) of a model file
_LOADS = itertools.count(1)


@dataclass
class LoadedModel:
    path: Path
    model: TrainedModel
    scorer: Scorer
    signature: Signature
    loaded_at: float  # wall clock
    # Names this load of the model to serve's scoring processes, which hold a copy each.
    token: int = field(default_factory=lambda: next(_LOADS))

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @cached_property
    def list_id(self) -> int:  # asked for every frame: a hash of 130 names, once
        return signal_list_id(self.model.card.signals)

    def assembles_like(self, other: LoadedModel) -> bool:
        """Cycles assembled for one can go on for the other: same signals, rate and program
        (the padded length may differ: it only bounds how many steps are kept)."""
        a, b = self.model.card, other.model.card
        return (a.signals, a.sample_rate_hz, a.program) == (b.signals, b.sample_rate_hz, b.program)


def signature(path: Path) -> Signature:
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def plain_cycle(model: TrainedModel, steps: int) -> np.ndarray:
    """`steps` steps of every signal at its training mean: what any model must score finitely."""
    return np.tile(model.normalizer.mean.astype(np.float32), (steps, 1))


def load_checked(path: Path, device: str) -> LoadedModel:
    """Load a model file and prove it can score: a ModelFileError names what is wrong."""
    seen = signature(path)
    model = load_model(path)
    card = model.card
    if not card.signals or card.padded_length < 2:
        raise ModelFileError(path, "its card has no signals or no length")
    scorer = Scorer(model, device=device)
    (result,) = scorer.score_cycles([plain_cycle(model, min(card.padded_length, 64))])
    if not np.isfinite(result.score):
        raise ModelFileError(path, f"scores a plain cycle as {result.score}: the weights are broken")
    return LoadedModel(path, model, scorer, seen, time.time())


def specificity(pattern: str) -> tuple[int, int, int]:
    """Larger = more specific: exact ids first, then more literal characters, fewer wildcards."""
    if pattern == DEFAULT:
        return (0, 0, 0)
    wild = sum(pattern.count(c) for c in "*?[")
    return (int(wild == 0), len(pattern) - wild, -wild)


class ModelRegistry:
    """Patterns (robot ids, globs, `default`) to model files, and the models loaded from them."""

    def __init__(self, files: dict[str, Path], device: str = "auto", directory: Path | None = None) -> None:
        self.device = device
        self.directory = directory
        self.configured: dict[str, Path] = {}
        self.files: dict[str, Path] = {}
        self.models: dict[str, LoadedModel] = {}
        self.refused: dict[str, tuple[Signature, str]] = {}  # pattern -> (its file then, why)
        self._cache: dict[str, str | None] = {}
        self.set_files(files)

    @classmethod
    def single(cls, model: TrainedModel, device: str = "auto") -> ModelRegistry:
        """One model for every robot, already in memory (replay in process)."""
        registry = cls({}, device)
        registry.models[DEFAULT] = LoadedModel(
            Path("(in memory)"), model, Scorer(model, device), (0, 0, 0), time.time()
        )
        return registry

    def set_files(self, configured: dict[str, Path]) -> None:
        """The `[models]` table (a SIGHUP reads it again); the directory is listed anew."""
        self.configured = dict(configured)
        self._list()

    def _list(self) -> None:
        files = dict(self.configured)
        if self.directory is not None:
            files.update(directory_files(self.directory))
        if files != self.files:
            self.files = files
            self._cache.clear()

    def load_all(self) -> None:
        """Load every file now (at start: a file that cannot be used is an error)."""
        self.models = {}
        for pattern, path in self.files.items():
            self.models[pattern] = self.loaded_file(path) or load_checked(path, self.device)
        self._cache.clear()

    def loaded_file(self, path: Path) -> LoadedModel | None:
        """The model already loaded from `path` as the file is now: patterns that name one
        file share one model (its memory, and batches across their robots)."""
        try:
            seen = signature(path)
        except OSError:
            return None
        wanted = path.resolve()
        return next(
            (m for m in self.models.values() if m.signature == seen and m.path.resolve() == wanted), None
        )

    def resolve(self, robot: str) -> LoadedModel | None:
        if robot not in self._cache:
            if len(self._cache) > 100_000:  # robot ids come from message keys
                self._cache.clear()
            self._cache[robot] = self._match(robot)
        pattern = self._cache[robot]
        return None if pattern is None else self.models.get(pattern)

    def _match(self, robot: str) -> str | None:
        file_name = safe_name(robot)  # how a robot id names its file in a model directory
        candidates = [
            p for p in self.models if p in (DEFAULT, robot, file_name) or fnmatch.fnmatchcase(robot, p)
        ]
        return max(candidates, key=lambda p: (specificity(p), p), default=None)

    def stale(self) -> list[tuple[str, Path]]:
        """Patterns whose file is new or changed since it was loaded (a refused file is not
        tried again until it changes); patterns whose file went away are dropped."""
        self._list()
        for gone in set(self.models) - set(self.files) - {DEFAULT}:
            del self.models[gone]
            self._cache.clear()
        out = []
        for pattern, path in self.files.items():
            try:
                seen = signature(path)
            except OSError:
                continue  # gone for a moment (being replaced): the old model stays
            loaded, refused = self.models.get(pattern), self.refused.get(pattern)
            if (loaded is None or loaded.signature != seen) and (refused is None or refused[0] != seen):
                out.append((pattern, path))
        return out

    def swap(self, pattern: str, loaded: LoadedModel) -> LoadedModel | None:
        """Put `loaded` in place; returns the model it replaced."""
        old = self.models.get(pattern)
        self.models[pattern] = loaded
        self.refused.pop(pattern, None)
        self._cache.clear()
        return old

    def refuse(self, pattern: str, path: Path, reason: str) -> None:
        try:
            seen = signature(path)
        except OSError:
            seen = (0, 0, 0)
        self.refused[pattern] = (seen, reason)

    def problems(self) -> list[str]:
        return [
            f"model for {p}: the new file was refused ({why}); the old one still scores"
            for p, (_, why) in self.refused.items()
        ]

    def info(self) -> list[dict[str, object]]:
        """What is loaded, for /models and the model-info metric."""
        return [
            {
                "robots": pattern,
                "file": str(loaded.path),
                "model_id": loaded.model_id,
                "signals": len(loaded.model.card.signals),
                "sample_rate_hz": loaded.model.card.sample_rate_hz,
                "program": loaded.model.card.program.name,
                "loaded_at": loaded.loaded_at,
                "refused": self.refused[pattern][1] if pattern in self.refused else None,
            }
            for pattern, loaded in sorted(
                self.models.items(), key=lambda kv: specificity(kv[0]), reverse=True
            )
        ]


def directory_files(directory: Path) -> dict[str, Path]:
    """`DIR/<robot>.rwmodel` -> {robot: file}; `DIR/default.rwmodel` -> {"default": file}."""
    if not directory.is_dir():
        raise ModelFileError(directory, "no such model directory")
    return {
        p.name[: -len(SUFFIX)]: p for p in sorted(directory.glob(f"*{SUFFIX}")) if not p.name.startswith(".")
    }
