"""Speed and memory of the cell simulator on one core.

    python tests/bench/bench_simulator.py [--cycles 48] [--profile default]

Each run writes a dataset in a child process pinned to one CPU with one BLAS thread and
prints cycles per second (wall and CPU time) and the child's peak RSS. Two sizes at 100 Hz
show that memory does not grow with the number of cycles.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, os, sys, time
from pathlib import Path
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from replay.simulator.dataset import write_dataset
from replay.simulator.profile import load_profile
profile, rate, cycles, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cell = load_profile(profile)
wall, cpu = time.perf_counter(), time.process_time()
summary = write_dataset(out, cell, n_cycles=cycles, rate=rate, seed=0)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
print(json.dumps({"wall": wall, "cpu": cpu, "rows": summary.rows, "peak_mb": peak / 1024}))
"""


def run(profile: str, rate: int, cycles: int, folder: Path) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = folder / f"bench-{rate}-{cycles}.parquet"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, profile, str(rate), str(cycles), str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=48)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    cpu = min(os.sched_getaffinity(0))
    print(f"cell simulator, profile {args.profile!r}, one core (CPU {cpu}), one BLAS thread")
    print(
        f"{'rate':>6} {'cycles':>7} {'rows':>9} {'cycles/s wall':>14} {'cycles/s cpu':>13} {'peak RSS':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for rate, cycles in ((100, args.cycles), (100, 3 * args.cycles), (500, args.cycles)):
            r = run(args.profile, rate, cycles, Path(tmp))
            print(
                f"{rate:>4} Hz {cycles:>7} {r['rows']:>9,} {cycles / r['wall']:>14.2f} "
                f"{cycles / r['cpu']:>13.2f} {r['peak_mb']:>7.0f} MB"
            )


if __name__ == "__main__":
    main()
