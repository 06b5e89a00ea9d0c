"""The thesis preset against the recommended one, on the cells tuned on and on held-out cells.

    python tests/bench/bench_presets.py [--cycles 300] [--epochs 30] [--seeds 177,178,179]
    python tests/bench/bench_presets.py --work /tmp/presets     # keeps and reuses files there

Per profile one simulated cell (seed 21, 100 Hz), per seed one MTS-Flow trained through the
command line at 50 Hz (`robotwatch train`, thesis settings but `--epochs`). Both presets train
the same flow, so every trained flow is scored both ways, and beside them the ablation: each
part of the recommended score (G whole cycle, L worst stretch, E and O worst latent channel's
energy and offset) alone, the recommended maximum without each, and the first recommended
preset, max(G, L). Printed: AUROC [%] per category, mean ± std over the
seeds, for the tuning profiles (`default`, `ur5-cell`) and the held-out ones (committed
before tuning; their results are reported, never used to choose).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from replay import VorausFile
from replay.schema import TRAIN_SETTING, Category
from robotwatch.mtsflow.data import divider_for
from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.recommended_score import PARTS, calibrate_rule, standardized_parts
from robotwatch.mtsflow.score import Scorer

CLI = str(Path(sys.executable).with_name("robotwatch"))
TUNING = ("default", "ur5-cell")
HELD_OUT = ("heldout-worn-cell", "heldout-fast-cell")
CATEGORIES = [c for c in Category if c is not Category.NORMAL_OPERATION]
THESIS = "thesis: NLL of the whole cycle"
RECOMMENDED = "recommended: max(G, L, E, O)"
SYMBOL = dict(zip(PARTS, "GLEO", strict=True))


def robotwatch(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"robotwatch {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def cell_and_models(work: Path, profile: str, cycles: int, epochs: int, seeds: list[int]) -> Iterator[Path]:
    data = work / f"{profile}.parquet"
    if not data.exists():
        robotwatch(
            "simulate", "--out", str(data), "--cycles", str(cycles), "--seed", "21", "--profile", profile
        )
    for seed in seeds:
        model = work / f"{profile}-s{seed}.rwmodel"
        if not model.exists():
            options = ("--rate", "50", "--epochs", str(epochs), "--device", "cpu", "--seed", str(seed))
            robotwatch("train", str(data), "--out", str(model), *options)
        yield model


def scores(model_path: Path, data: Path) -> dict[str, dict[str, float]]:
    """AUROC [%] per category of every variant for one trained flow."""
    model = load_model(model_path)
    card, rate = model.card, model.card.sample_rate_hz
    scorer = Scorer(model, device="cpu")
    cycles = list(VorausFile(data, signals=card.signals).cycles("all", divider=divider_for(data, rate)))
    ev = scorer.evidence([c.signals for c in cycles])
    calibration = np.isin([c.sample for c in cycles], card.training.calibration_samples)
    training = np.array([c.setting == int(TRAIN_SETTING) for c in cycles])
    test = ~training
    anomaly = np.array([c.anomaly for c in cycles])
    category = np.array([c.category for c in cycles])

    rule, stats = calibrate_rule(ev[training], ev[calibration], rate)
    parts = {SYMBOL[name]: p for name, p in standardized_parts(ev, rule, stats, rate).items()}

    def most(symbols: str) -> np.ndarray:
        return np.maximum.reduce([parts[p] for p in symbols])

    variants: dict[str, np.ndarray] = {THESIS: parts["G"]}
    variants |= {f"{p} alone": parts[p] for p in "LEO"}
    variants["max(G, L): the first recommended preset"] = most("GL")
    variants[RECOMMENDED] = most("GLEO")
    variants |= {f"without {p}": most("GLEO".replace(p, "")) for p in "GLEO"}
    variants["sum of G, L, E, O"] = sum(parts.values())

    normal = test & ~anomaly
    out: dict[str, dict[str, float]] = {}
    for name, s in variants.items():
        per: dict[str, float] = {}
        for cat in CATEGORIES:
            bad = test & anomaly & (category == int(cat))
            if bad.any():
                y = np.r_[np.zeros(normal.sum()), np.ones(bad.sum())]
                per[cat.name] = 100 * roc_auc_score(y, np.r_[s[normal], s[bad]])
        per["mean"] = float(np.mean(list(per.values())))
        out[name] = per
    return out


def table(title: str, runs: list[dict[str, dict[str, float]]], show: Callable[[str], None]) -> None:
    names = list(runs[0])
    columns = list(runs[0][names[0]])
    show(f"\n{title} ({len(runs)} trained flows): AUROC [%], mean ± std over seeds")
    show("| variant | " + " | ".join(c.replace("_", " ").lower() for c in columns) + " |")
    show("|---|" + "---:|" * len(columns))
    for name in names:
        cells = []
        for c in columns:
            values = np.array([r[name][c] for r in runs])
            cells.append(
                f"{values.mean():.1f} ± {values.std():.1f}" if c == "mean" else f"{values.mean():.1f}"
            )
        show(f"| {name} | " + " | ".join(cells) + " |")
    delta = [np.mean([r[RECOMMENDED][c] - r[THESIS][c] for r in runs]) for c in columns]
    show("| recommended − thesis | " + " | ".join(f"{d:+.1f}" for d in delta) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", default="177,178,179")
    parser.add_argument("--work", type=Path, default=None, help="folder for the cells and models (kept)")
    parser.add_argument("--profiles", default=",".join(TUNING + HELD_OUT))
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="robotwatch-presets-"))
    work.mkdir(parents=True, exist_ok=True)
    by_profile: dict[str, list[dict[str, dict[str, float]]]] = {}
    for profile in args.profiles.split(","):
        data = work / f"{profile}.parquet"
        by_profile[profile] = [
            scores(m, data) for m in cell_and_models(work, profile, args.cycles, args.epochs, seeds)
        ]
        table(profile, by_profile[profile], print)
    for title, group in (("tuning cells", TUNING), ("held-out cells", HELD_OUT)):
        runs = [r for p in group if p in by_profile for r in by_profile[p]]
        if runs:
            table(f"{title}: {', '.join(p for p in group if p in by_profile)}", runs, print)


if __name__ == "__main__":
    main()
