"""Bounded-memory reading of files whose row groups are too large to decode at once.

fastparquet wrote the public voraus-AD files as one row group with one data page per
column, so any row-wise read decodes every column of the whole file (12 GB at 500 Hz).
Here the file is read one column at a time instead (peak memory: one column), the kept
rows of each column go to a column-major memory map on disk, and cycles are then
streamed from that map. Rows dropped by downsampling or by the train/test split never
reach the disk.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ROW = "_row"  # original row number, carried along for error messages


class SpillSpaceError(RuntimeError):
    """Not enough temporary disk to read a large file with bounded memory."""


def row_group_bytes(file: pq.ParquetFile, columns: list[str]) -> int:
    """Decoded size of the largest row group restricted to `columns`."""
    meta = file.metadata
    wanted = set(columns)
    largest = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        columns_of_group = (group.column(i) for i in range(group.num_columns))
        size = sum(c.total_uncompressed_size for c in columns_of_group if c.path_in_schema in wanted)
        largest = max(largest, size)
    return largest


def _read_column(file: pq.ParquetFile, name: str) -> np.ndarray:
    return file.read(columns=[name], use_threads=False).column(0).to_numpy()


def spilled_batches(
    file: pq.ParquetFile,
    columns: list[str],
    keep_rows: Callable[[Callable[[str], np.ndarray]], np.ndarray],
    batch_rows: int,
    spill_dir: str | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield column batches of the kept rows, like `ParquetFile.iter_batches` does.

    `keep_rows(read)` gets a function that reads one whole column and returns the
    boolean mask of rows to keep.
    """
    mask = keep_rows(lambda name: _read_column(file, name))
    kept = np.flatnonzero(mask)
    n = len(kept)
    dtypes = {}
    # Plain file I/O rather than a memory map: mapped pages would count as the process'
    # resident memory, which is exactly what this module exists to bound.
    with tempfile.TemporaryDirectory(prefix="robotwatch-spill-", dir=spill_dir) as tmp:
        needed = 8 * n * len(columns)
        free = shutil.disk_usage(tmp).free
        if needed > free:
            raise SpillSpaceError(
                f"reading this file with bounded memory needs {needed / 2**30:.1f} GiB of temporary disk "
                f"in {tmp}, only {free / 2**30:.1f} GiB are free (set TMPDIR or spill_dir elsewhere)"
            )
        with (Path(tmp) / "columns.bin").open("w+b") as store:
            for name in columns:  # column-major: column j starts at byte 8 * n * j
                values = _read_column(file, name)
                dtypes[name] = values.dtype
                # Every voraus-AD value (float64, int64 ids < 2**53, bool, uint8) is exact in float64.
                values[kept].astype(np.float64).tofile(store)
                del values
            for start in range(0, n, batch_rows):
                stop = min(start + batch_rows, n)
                batch = {}
                for j, name in enumerate(columns):
                    store.seek(8 * (n * j + start))
                    batch[name] = np.fromfile(store, dtype=np.float64, count=stop - start).astype(
                        dtypes[name]
                    )
                batch[ROW] = kept[start:stop]
                yield batch
