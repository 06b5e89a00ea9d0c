"""serve's forward passes in threads of its own process against in its scoring processes.

    python tests/bench/bench_scoring_process.py [ROBOTS ...]    (default: 100 125)

Each step as `robotwatch bench --serve` runs it (the bench's 100 Hz model, 3 normal cycles per
robot at 500 Hz from a publisher process, a fresh local broker per step), once with
`scoring_process = false` and once with the default; the pair's order alternates from one
robot count to the next, so that neither setting always runs second on this noisy machine.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from robotwatch.bench.serve import bench_material, serve_step

SETTINGS = {"in threads": "false", "in scoring processes": "true"}


def main(robots: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="robotwatch-bench-") as tmp:
        material = bench_material(Path(tmp))
        print("robots at 500 Hz | MTS-Flow | cycle end -> verdict p50 / p99 | kept up | "
              "cores: serve / machine | serve memory")  # fmt: skip
        for i, n in enumerate(robots):
            order = list(SETTINGS.items())[:: -1 if i % 2 else 1]
            for name, value in order:
                os.environ["ROBOTWATCH_SCORING_PROCESS"] = value  # serve reads its settings from here too
                s = serve_step(material, n)
                print(f"{n:16d} | {name:20} | {s.latency_p50_ms:7,.0f} / {s.latency_p99_ms:7,.0f} ms | "
                      f"{'yes' if s.kept_up else 'no':7} | {s.serve_cores:.2f} / {s.machine_busy_cores:.2f} "
                      f"of {s.machine_cores} | {s.serve_rss_mb:,.0f} MB", flush=True)  # fmt: skip
        os.environ.pop("ROBOTWATCH_SCORING_PROCESS")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 125])
