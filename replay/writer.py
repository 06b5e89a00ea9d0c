"""Write voraus-AD tables cycle by cycle, exactly in the public dataset's layout."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from replay.cycle import Cycle
from replay.schema import COLUMNS, DTYPES, INDEX_NAME, META_COLUMNS, SIGNALS


def _arrow_schema() -> pa.Schema:
    """The file schema with pandas metadata, so pandas restores the `index` index.

    The index column comes first in the file, as fastparquet wrote the public files.
    """
    empty = pd.DataFrame({c: pd.Series([], dtype=DTYPES[c]) for c in COLUMNS})
    empty.index = pd.Index([], dtype="int64", name=INDEX_NAME)
    schema = pa.Schema.from_pandas(empty, preserve_index=True)
    index_field = schema.field(INDEX_NAME)
    fields = [index_field] + [schema.field(c) for c in COLUMNS]
    return pa.schema(fields, metadata=schema.metadata)


SCHEMA = _arrow_schema()


class VorausWriter:
    """Append cycles to a new voraus-AD parquet file; use as a context manager.

    Cycles are buffered up to `rows_per_group` rows, then written as one row group, so
    memory does not grow with the number of cycles. Cycles must carry all 130 signals.
    """

    def __init__(
        self, path: str | PathLike[str], rows_per_group: int = 65_536, compression: str = "zstd"
    ) -> None:
        self.path = Path(path)
        self.rows_per_group = rows_per_group
        self.rows_written = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(self.path, SCHEMA, compression=compression)

    def write_cycle(self, cycle: Cycle) -> None:
        if cycle.signal_names != SIGNALS:
            raise ValueError(
                f"cycle {cycle.sample}: a voraus-AD file holds all {len(SIGNALS)} signals in the "
                f"dataset's order, got {len(cycle.signal_names)}"
            )
        n = cycle.n_steps
        start = self.rows_written + self._pending_rows
        index = np.arange(start, start + n, dtype=np.int64) if cycle.index is None else cycle.index
        meta = {
            "time": cycle.time,
            "sample": np.full(n, cycle.sample),
            "anomaly": np.full(n, cycle.anomaly),
            "category": np.full(n, cycle.category),
            "setting": np.full(n, cycle.setting),
            "action": cycle.action,
            "active": cycle.active,
        }
        arrays = [pa.array(np.asarray(index, dtype=np.int64))]
        arrays += [pa.array(np.asarray(meta[c], dtype=DTYPES[c])) for c in META_COLUMNS]
        signals = np.asarray(cycle.signals, dtype=np.float64)
        arrays += [pa.array(signals[:, i]) for i in range(signals.shape[1])]
        self._pending.append(pa.RecordBatch.from_arrays(arrays, schema=SCHEMA))
        self._pending_rows += n
        if self._pending_rows >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=SCHEMA))
            self.rows_written += self._pending_rows
            self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def __enter__(self) -> VorausWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
