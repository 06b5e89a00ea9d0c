"""One short run on a machine with CUDA (under 10 minutes): what robotwatch does on a GPU.

    python tests/bench/gpu_check.py [--json OUT.json] [--skip-training] [--skip-serve]

1. CUDA scores equal CPU scores within 1e-4 relative (a freshly initialized MTS-Flow at 100 Hz
   and at 500 Hz, 130 signals, the same weights on both devices).
2. `robotwatch bench` figures on CUDA: forward, forward + localization and training step per
   cycle, at batch 32 and 128, at 100 Hz and 500 Hz, each next to the reference computation.
3. The wall time of a full training (70 epochs) of an 800-cycle default cell at 100 Hz.
4. `bench --serve` with the model on CUDA: robots at 500 Hz one serve process keeps up with.

Without CUDA it says so and exits 2: there is nothing to measure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

from robotwatch.bench.flow import bench_flow
from robotwatch.mtsflow.network import FlowConfig, MTSFlow

RATES = {100.0: (1150, 2), 500.0: (5750, 10)}  # steps and dilation, as `robotwatch bench`


def scores_agree() -> dict[str, float]:
    """Largest relative difference between CUDA and CPU scores, per rate."""
    out = {}
    for rate, (steps, dilation) in RATES.items():
        torch.manual_seed(0)
        flow = MTSFlow(FlowConfig(n_signals=130, dilation=dilation)).eval()
        x = torch.randn(4, 130, steps, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            cpu = flow.nll(x).double()
            cuda = flow.to("cuda").nll(x.to("cuda")).double().cpu()
        out[f"{rate:g} Hz"] = float(((cuda - cpu).abs() / cpu.abs()).max())
    return out


def flow_figures() -> list[dict[str, object]]:
    figures = []
    for rate, (steps, dilation) in RATES.items():
        for batch in (32, 128):
            train_batch = min(batch, 32 if rate == 100.0 else 8)
            f = bench_flow(
                rate_hz=rate,
                n_steps=steps,
                dilation=dilation,
                batch=batch,
                train_batch=train_batch,
                repeats=5,
                device="cuda",
            )
            figures.append(f.as_dict())
            print(
                f"{rate:g} Hz, batch {batch}: forward {f.forward_ms_per_cycle:.2f} ms, + localization "
                f"{f.localize_ms_per_cycle:.2f} ms, training step {f.train_step_ms_per_cycle:.2f} ms "
                f"(batch {train_batch}) per cycle; reference {f.reference_forward_ms_per_cycle:.2f} / "
                f"{f.reference_localize_ms_per_cycle:.2f} / {f.reference_train_step_ms_per_cycle:.2f}",
                flush=True,
            )
    return figures


def full_training(folder: Path) -> dict[str, float]:
    from replay.schema import SIGNALS
    from replay.simulator import load_profile, write_dataset
    from robotwatch.mtsflow.fit import FitOptions, TrainingSettings, fit_model

    cell = folder / "cell.parquet"
    started = time.monotonic()
    write_dataset(cell, load_profile("default"), n_cycles=800, rate=100, seed=7)
    simulated = time.monotonic() - started
    started = time.monotonic()
    fit_model(cell, FitOptions(signals=SIGNALS, rate_hz=100), TrainingSettings(epochs=70, device="cuda"))
    return {"simulate_s": round(simulated, 1), "train_70_epochs_s": round(time.monotonic() - started, 1)}


def serve_figures() -> dict[str, object]:
    from robotwatch.bench.serve import bench_serve

    figures = bench_serve(steps=(50, 100, 200), rate_hz=500.0)  # serve's device "auto": CUDA here
    return figures.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (run this on a machine with a GPU)")
        raise SystemExit(2)
    report: dict[str, object] = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    report["cuda_vs_cpu_max_rel_diff"] = agree = scores_agree()
    print(f"{report['device']}: CUDA vs CPU scores, max relative difference {agree}", flush=True)
    assert all(v <= 1e-4 for v in agree.values()), agree
    report["flow"] = flow_figures()
    if not args.skip_training:
        with tempfile.TemporaryDirectory(prefix="robotwatch-gpu-") as tmp:
            report["training"] = full_training(Path(tmp))
        print(f"800-cycle cell at 100 Hz: {report['training']}", flush=True)
    if not args.skip_serve:
        report["serve"] = serve = serve_figures()
        print(f"serve with the model on CUDA: {serve['max_robots']} robots at 500 Hz kept up", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
