"""Stream a voraus-AD parquet file cycle by cycle with bounded memory.

Files with row groups of moderate size (those our writer makes) are read as record
batches of the projected columns. The public files were written by fastparquet as one
single row group, which no row-wise read can decode piecemeal; those are read column by
column through a spill to disk (replay.spill). Either way memory grows with the batch
size and the longest cycle, never with the file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from replay.cycle import Cycle
from replay.errors import VorausFormatError
from replay.schema import (
    CYCLE_CONSTANT_COLUMNS,
    DTYPES,
    INDEX_NAME,
    META_COLUMNS,
    SIGNALS,
    TRAIN_SETTING,
)
from replay.spill import ROW, row_group_bytes, spilled_batches

Part = Literal["all", "train", "test"]


@dataclass(frozen=True)
class CycleInfo:
    """What the meta columns say about one cycle, without its signals."""

    sample: int
    anomaly: bool
    category: int
    setting: int
    n_rows: int

    @property
    def is_train(self) -> bool:
        return self.setting == TRAIN_SETTING


class VorausFile:
    """A voraus-AD table on disk, checked on open, read cycle by cycle.

    `signals` selects (and orders) the signal columns that are read; the meta columns
    and the index are always read.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        signals: Sequence[str] = SIGNALS,
        *,
        memory_budget: int = 256 * 2**20,
        spill_dir: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.signals = tuple(signals)
        self.memory_budget = memory_budget
        self.spill_dir = spill_dir
        try:
            self._file = pq.ParquetFile(self.path, buffer_size=1 << 20, pre_buffer=False)
        except (OSError, pa.ArrowException) as exc:
            raise VorausFormatError(self.path, f"cannot be read as a parquet file ({exc})") from exc
        self._check_schema()

    @property
    def n_rows(self) -> int:
        return self._file.metadata.num_rows

    def _check_schema(self) -> None:
        schema = self._file.schema_arrow
        present = set(schema.names)
        unknown = [s for s in self.signals if s not in DTYPES]
        if unknown:
            raise VorausFormatError(self.path, f"unknown signal names requested: {', '.join(unknown)}")
        needed = (INDEX_NAME, *META_COLUMNS, *self.signals)
        missing = [c for c in needed if c not in present]
        if missing:
            raise VorausFormatError(self.path, f"missing column(s): {', '.join(missing)}")
        expected = {INDEX_NAME: np.dtype("int64"), **DTYPES}
        for name in needed:
            field = schema.field(name)
            try:
                actual = np.dtype(field.type.to_pandas_dtype())
            except (NotImplementedError, TypeError):
                actual = None
            if actual != expected[name]:
                raise VorausFormatError(
                    self.path, f"column {name!r} has type {field.type}, expected {expected[name]}"
                )

    def cycle_infos(self, batch_rows: int = 262_144) -> list[CycleInfo]:
        """One entry per cycle from the per-cycle meta columns only (cheap even for 500 Hz)."""
        infos: list[CycleInfo] = []
        for chunk in self._chunks(list(CYCLE_CONSTANT_COLUMNS), batch_rows, divider=1, part="all"):
            infos.append(
                CycleInfo(
                    sample=int(chunk["sample"][0]),
                    anomaly=bool(chunk["anomaly"][0]),
                    category=int(chunk["category"][0]),
                    setting=int(chunk["setting"][0]),
                    n_rows=len(chunk["sample"]),
                )
            )
        return infos

    def cycles(
        self,
        part: Part = "all",
        *,
        divider: int = 1,
        settings: Container[int] | None = None,
        batch_rows: int = 65_536,
    ) -> Iterator[Cycle]:
        """Yield the cycles in file order.

        `part` picks the voraus-AD split (train = setting 72 PRE_A, test = all others);
        `settings` narrows further. `divider` downsamples as the official loader does:
        it keeps the rows whose global `index` is a multiple of it.
        """
        if divider < 1:
            raise ValueError(f"divider must be >= 1, got {divider}")
        columns = [*META_COLUMNS, *self.signals]
        for chunk in self._chunks(columns, batch_rows, divider, part):
            if len(chunk["time"]) == 0:  # shorter than the divider: nothing left to read
                continue
            setting = int(chunk["setting"][0])
            if part == "train" and setting != TRAIN_SETTING:
                continue
            if part == "test" and setting == TRAIN_SETTING:
                continue
            if settings is not None and setting not in settings:
                continue
            yield Cycle(
                sample=int(chunk["sample"][0]),
                anomaly=bool(chunk["anomaly"][0]),
                category=int(chunk["category"][0]),
                setting=setting,
                time=chunk["time"],
                action=chunk["action"],
                active=chunk["active"],
                signals=_stack([chunk[s] for s in self.signals], len(chunk["time"])),
                signal_names=self.signals,
                index=chunk[INDEX_NAME],
            )

    def _batches(
        self, columns: list[str], batch_rows: int, divider: int, part: Part
    ) -> Iterator[dict[str, np.ndarray]]:
        """Column batches in file order, each with the original row numbers under `ROW`.

        Row groups that fit the memory budget are streamed directly; larger ones (the
        public files are one row group) go through a column-wise spill to disk.
        """
        if row_group_bytes(self._file, columns) <= self.memory_budget:
            row = 0
            for batch in self._file.iter_batches(batch_size=batch_rows, columns=columns, use_threads=False):
                arrays = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in columns}
                arrays[ROW] = np.arange(row, row + batch.num_rows)
                row += batch.num_rows
                yield arrays
            return

        def keep_rows(read: Callable[[str], np.ndarray]) -> np.ndarray:
            mask = read(INDEX_NAME) % divider == 0
            if part != "all":
                in_train = read("setting") == TRAIN_SETTING
                mask &= in_train if part == "train" else ~in_train
            return mask

        yield from spilled_batches(self._file, columns, keep_rows, batch_rows, self.spill_dir)

    def _chunks(
        self, columns: list[str], batch_rows: int, divider: int, part: Part
    ) -> Iterator[dict[str, np.ndarray]]:
        """Yield the columns of one cycle at a time, checking that cycles are contiguous."""
        columns = [INDEX_NAME, *columns] if INDEX_NAME not in columns else columns
        pending: list[dict[str, np.ndarray]] = []
        current: int | None = None
        seen: set[int] = set()
        row = 0
        try:
            for arrays in self._batches(columns, batch_rows, divider, part):
                samples = arrays["sample"]
                row = int(arrays[ROW][0]) if len(samples) else row
                # Where the sample id changes inside this batch (plus its two ends).
                cuts = np.flatnonzero(samples[1:] != samples[:-1]) + 1
                bounds = [0, *cuts.tolist(), len(samples)]
                for lo, hi in itertools.pairwise(bounds):
                    sample = int(samples[lo])
                    piece = {k: v[lo:hi] for k, v in arrays.items() if k != ROW}
                    if sample != current:
                        if current is not None:
                            yield self._finish(pending, current, divider)
                        if sample in seen:
                            raise VorausFormatError(
                                self.path,
                                f"cycle {sample} is not contiguous: its rows continue at row "
                                f"{int(arrays[ROW][lo])} after other cycles",
                            )
                        seen.add(sample)
                        current, pending = sample, []
                    pending.append(piece)
        except (OSError, pa.ArrowException) as exc:
            raise VorausFormatError(self.path, f"cannot be read near row {row} ({exc})") from exc
        if current is not None:
            yield self._finish(pending, current, divider)

    def _finish(
        self, pieces: list[dict[str, np.ndarray]], sample: int, divider: int
    ) -> dict[str, np.ndarray]:
        chunk = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        for name in CYCLE_CONSTANT_COLUMNS:
            if name in chunk and (chunk[name] != chunk[name][0]).any():
                raise VorausFormatError(
                    self.path, f"cycle {sample}: column {name!r} changes within the cycle"
                )
        if divider > 1:
            keep = chunk[INDEX_NAME] % divider == 0
            chunk = {k: v[keep] for k, v in chunk.items()}
        return chunk


def _stack(columns: list[np.ndarray], n_rows: int) -> np.ndarray:
    return np.column_stack(columns) if columns else np.empty((n_rows, 0))


def read_cycles(
    path: str | PathLike[str], part: Part = "all", *, signals: Sequence[str] = SIGNALS, divider: int = 1
) -> Iterator[Cycle]:
    """Shorthand for `VorausFile(path, signals).cycles(part, divider=divider)`."""
    return VorausFile(path, signals).cycles(part, divider=divider)
