"""Write a simulated dataset: the voraus-AD table and its ground-truth sidecar, cycle by cycle.

Memory does not grow with the number of cycles: a batch of cycles is simulated, written
and dropped before the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from os import PathLike
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from replay.schema import ANOMALY_CATEGORIES, Category, Variant
from replay.simulator import plan as planning
from replay.simulator.profile import CellProfile
from replay.simulator.simulate import Simulator, Truth
from replay.writer import VorausWriter

BATCH = 32  # cycles integrated together: the closed loop costs per step, hardly per cycle

_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
TRUTH_SCHEMA = pa.schema([pa.field(f.name, _ARROW_TYPES[str(f.type)]) for f in fields(Truth)])


def truth_path(table: str | PathLike[str]) -> Path:
    """`<stem>.truth.parquet` beside the table."""
    path = Path(table)
    return path.with_name(f"{path.stem}.truth.parquet")


@dataclass(frozen=True)
class Summary:
    path: Path
    truth: Path
    cycles: int
    rows: int
    per_category: dict[str, int]


def write_dataset(
    path: str | PathLike[str],
    profile: CellProfile,
    *,
    n_cycles: int = planning.REAL_TOTAL,
    rate: int = 100,
    categories: Iterable[Category] = ANOMALY_CATEGORIES,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Simulate and write `n_cycles` cycles; `progress` is called with each batch's size."""
    path = Path(path)
    simulator = Simulator(profile, seed=seed, rate=rate)
    variants: list[Variant] = planning.plan(n_cycles, categories, seed)
    counts: dict[str, int] = {}
    rows_written = 0
    truth_file = truth_path(path)
    with VorausWriter(path) as writer, pq.ParquetWriter(truth_file, TRUTH_SCHEMA) as truth_writer:
        for start in range(0, len(variants), BATCH):
            batch = list(enumerate(variants[start : start + BATCH], start=start))
            results = simulator.simulate(batch)
            for cycle, truth in results:
                writer.write_cycle(cycle)
                rows_written += cycle.n_steps
                counts[truth.category_name] = counts.get(truth.category_name, 0) + 1
            rows = [asdict(truth) for _, truth in results]
            truth_writer.write_table(pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA))
            del results, rows  # before the next batch is simulated, not after
            if progress is not None:
                progress(len(batch))
    return Summary(path, truth_file, len(variants), rows_written, counts)
