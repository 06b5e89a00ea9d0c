"""The simulated cell held against the real voraus-AD cell: issue 13's two tables.

    python tests/bench/bench_fidelity.py [--cycles 800] [--seed 7] [--epochs 70] [--rate 50]
    python tests/bench/bench_fidelity.py --cycles 60 --epochs 2      # a quick run
    python tests/bench/bench_fidelity.py --figures-only              # first table only

1. The figures of the first table, each computed by replay.simulator.fidelity with the same
   code from the real excerpt and from a simulated file, with the band it must meet.
2. The difficulty table: 1-NN, PCA, CAE and MTS-Flow AUROC per anomaly category on the
   simulated cell, next to the real dataset's (thesis Table 8.2, 100 Hz, MTS-Flow the mean
   of 9 runs), and the mean absolute difference per column. The models are trained and
   evaluated through the `robotwatch` command line, as a user would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from replay.simulator import fidelity

ROOT = Path(__file__).resolve().parents[2]
EXCERPT = Path(
    os.environ.get("ROBOTWATCH_EXCERPT", ROOT.parent / "shared" / "data" / "voraus-ad-excerpt.parquet")
)
CLI = str(Path(sys.executable).with_name("robotwatch"))
METHODS = ("1-NN", "PCA", "CAE", "MTS-Flow")
# Rudolph (2024), Table 8.2: AUROC [%] per category on the real voraus-AD data, 100 Hz
REAL = {
    "AXIS_FRICTION": (74.8, 76.4, 89.4, 96.6),
    "MOTOR_COMMUTATION": (80.8, 87.0, 99.1, 99.8),
    "MISS_CAN": (100.0, 100.0, 100.0, 95.3),
    "LOSE_CAN": (68.7, 70.1, 72.6, 96.2),
    "AXIS_WEIGHT": (75.0, 79.2, 93.5, 94.1),
    "COLLISION_FOAM": (69.6, 73.9, 81.5, 87.5),
    "COLLISION_CABLE": (74.5, 75.7, 79.6, 84.7),
    "COLLISION_CARTON": (82.8, 83.6, 78.6, 88.3),
    "CAN_WEIGHT": (63.7, 64.2, 72.3, 85.1),
    "ENTANGLED": (63.0, 71.6, 83.1, 100.0),
    "INVALID_POSITION": (93.4, 92.1, 88.8, 100.0),
    "WOBBLING_STATION": (83.6, 85.9, 83.9, 96.1),
}


def robotwatch(*args: str, threads: int = 1) -> str:
    """Run the command line; long trainings keep to one thread so the machine stays usable."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"robotwatch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def first_table(data: Path) -> list[fidelity.Row]:
    real = fidelity.excerpt_figures(pd.read_parquet(EXCERPT))
    sim = fidelity.excerpt_figures(fidelity.read_first_seconds(data))
    timing = fidelity.cycle_figures(fidelity.read_timing(data))
    return fidelity.compare({**real, **fidelity.PUBLISHED}, {**sim, **timing}, [*real, *timing])


def print_first_table(rows: list[fidelity.Row]) -> None:
    print(f"{'figure':<44} {'real':>10} {'simulated':>10}  {'band':<22} ok")
    for r in rows:
        real = "" if r.real != r.real else f"{r.real:10.4g}"  # NaN: not in the excerpt
        print(f"{r.figure:<44} {real:>10} {r.sim:10.4g}  {r.band:<22} {'yes' if r.ok else 'NO'}")
    print(f"{sum(r.ok for r in rows)} of {len(rows)} figures within their band")


def difficulty(data: Path, work: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    model = work / "mtsflow.rwmodel"
    started = time.perf_counter()
    robotwatch(
        "train",
        str(data),
        "--out",
        str(model),
        "--epochs",
        str(args.epochs),
        "--rate",
        str(args.rate),
        "--seed",
        str(args.train_seed),
        "--device",
        "cpu",
    )
    trained = time.perf_counter() - started
    out = robotwatch(
        "evaluate", str(model), str(data), "--compare", "1nn,pca,cae", "--rate", str(args.rate), "--json"
    )
    payload = json.loads(out.strip().splitlines()[-1])
    setting = f"{args.epochs} epochs, {args.rate:g} Hz, seed {args.train_seed}"
    print(f"MTS-Flow trained in {trained / 60:.1f} min ({setting})")
    results = {"MTS-Flow": payload["auroc"], **{name: b["auroc"] for name, b in payload["baselines"].items()}}
    return {method: {c: 100 * v for c, v in results[method].items()} for method in METHODS}


def print_difficulty(sim: dict[str, dict[str, float]]) -> None:
    head = " ".join(f"{m:>8}" for m in METHODS)
    print(f"{'category':<18} {'real ' + head:>42}   {'simulated ' + head:>47}")
    diffs: dict[str, list[float]] = {m: [] for m in METHODS}
    for category, real in REAL.items():
        simulated = [sim[m].get(category, float("nan")) for m in METHODS]
        for m, r, s in zip(METHODS, real, simulated, strict=True):
            diffs[m].append(abs(r - s))
        print(
            f"{category:<18} "
            + " ".join(f"{v:8.1f}" for v in real)
            + "     "
            + " ".join(f"{v:8.1f}" for v in simulated)
        )
    real_mean = [sum(r[i] for r in REAL.values()) / len(REAL) for i in range(4)]
    sim_mean = [sum(sim[m].get(c, float("nan")) for c in REAL) / len(REAL) for m in METHODS]
    print(
        f"{'mean':<18} "
        + " ".join(f"{v:8.1f}" for v in real_mean)
        + "     "
        + " ".join(f"{v:8.1f}" for v in sim_mean)
    )
    distance = [sum(d) / len(d) for d in diffs.values()]
    print(f"{'|real - sim|':<18} " + " " * 41 + "     " + " ".join(f"{v:8.1f}" for v in distance))
    far = [
        (c, m)
        for c, real in REAL.items()
        for m, r in zip(METHODS, real, strict=True)
        if abs(r - sim[m][c]) > 10
    ]
    print("more than 10 points off: " + (", ".join(f"{c} ({m})" for c, m in far) or "none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulated cell")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--epochs", type=int, default=70)
    parser.add_argument("--rate", type=float, default=50.0, help="rate the detectors work at, Hz")
    parser.add_argument("--train-seed", type=int, default=177, help="seed of the MTS-Flow training")
    parser.add_argument("--data", type=Path, help="an already simulated file instead of a new one")
    parser.add_argument("--work", type=Path, help="keep the simulated file and model here")
    parser.add_argument("--figures-only", action="store_true", help="only the first table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = args.data
        if data is None:
            data = work / f"cell-{args.profile}-{args.cycles}-seed{args.seed}.parquet"
            robotwatch(
                "simulate",
                "--out",
                str(data),
                "--cycles",
                str(args.cycles),
                "--seed",
                str(args.seed),
                "--profile",
                args.profile,
            )
        print(f"simulated cell: {data} ({args.cycles} cycles, seed {args.seed}, profile {args.profile})")
        print(f"real excerpt: {EXCERPT}\n")
        print_first_table(first_table(data))
        if not args.figures_only:
            print()
            print_difficulty(difficulty(data, work, args))


if __name__ == "__main__":
    main()
