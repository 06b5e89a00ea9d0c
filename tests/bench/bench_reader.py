"""Memory of the streaming reader on a file stored as ONE row group, as the public files are.

    python tests/bench/bench_reader.py [--rows 2000000] [--path /tmp/one-row-group.parquet]

Writes a voraus-AD table of `--rows` rows (cycles of 1,100 rows) as a single row group,
then streams it cycle by cycle in a child process and prints the child's peak RSS next to
the size the table has in memory. Bounded memory means the peak stays far below that.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from replay.schema import COLUMNS, DTYPES, META_COLUMNS, SIGNALS
from replay.writer import SCHEMA

CYCLE_ROWS = 1_100


def write_single_row_group(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    writer = pq.ParquetWriter(path, SCHEMA, compression="snappy")
    # One write_table call per chunk would start a new row group; build the columns in
    # chunks but hand them to parquet as one table with row_group_size = rows.
    chunks = []
    for start in range(0, rows, 200_000):
        n = min(200_000, rows - start)
        index = np.arange(start, start + n, dtype=np.int64)
        sample = index // CYCLE_ROWS
        meta = {
            "time": (index % CYCLE_ROWS) * 0.002,
            "sample": sample,
            "anomaly": np.zeros(n, bool),
            "category": np.full(n, 12),
            "setting": np.full(n, 72),
            "action": ((index % CYCLE_ROWS) * 15 // CYCLE_ROWS).astype(np.uint8),
            "active": ((index % CYCLE_ROWS) * 15 // CYCLE_ROWS % 2).astype(np.int64),
        }
        arrays = [pa.array(index)] + [pa.array(meta[c].astype(DTYPES[c])) for c in META_COLUMNS]
        arrays += [pa.array(rng.standard_normal(n)) for _ in SIGNALS]
        chunks.append(pa.RecordBatch.from_arrays(arrays, schema=SCHEMA))
    writer.write_table(pa.Table.from_batches(chunks, schema=SCHEMA), row_group_size=rows)
    writer.close()


def peak_rss_mb() -> float:
    """VmHWM of this process. (ru_maxrss would be wrong here: Linux keeps the parent's
    high-water mark across fork and exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream(path: str, divider: int) -> None:
    from replay import VorausFile

    started = time.perf_counter()
    n_cycles = n_rows = 0
    for cycle in VorausFile(path).cycles(divider=divider):
        n_cycles += 1
        n_rows += cycle.n_steps
    seconds = time.perf_counter() - started
    peak_mb = peak_rss_mb()
    print(
        f"divider {divider}: {n_cycles} cycles, {n_rows} rows in {seconds:.1f} s "
        f"({n_rows / seconds / 1e6:.2f} M rows/s); peak RSS {peak_mb:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--path", type=Path, default=Path("/tmp/one-row-group.parquet"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--divider", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        stream(str(args.path), args.divider)
        return
    write_single_row_group(args.path, args.rows)
    meta = pq.ParquetFile(args.path).metadata
    in_memory_mb = args.rows * len(COLUMNS) * 8 / 2**20
    print(
        f"{args.path}: {meta.num_rows} rows in {meta.num_row_groups} row group(s), "
        f"{args.path.stat().st_size / 2**20:.0f} MB on disk, {in_memory_mb:.0f} MB as a table in memory"
    )
    for divider in (1, 5):
        subprocess.run(
            [sys.executable, __file__, "--child", "--path", str(args.path), "--divider", str(divider)],
            check=True,
        )
    args.path.unlink()


if __name__ == "__main__":
    main()
