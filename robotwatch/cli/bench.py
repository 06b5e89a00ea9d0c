"""`robotwatch bench`: speed figures of this machine, each next to its reference in one run."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from robotwatch.cli.console import console, out

# The floors of the speed issue, for 100 Hz on a 2-core CPU (ms per cycle; localization has
# none of its own there: the first MTS-Flow issue's).
FLOORS_100HZ = {"forward": 8.0, "localize": 120.0, "train_step": 30.0}


def bench(
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    quick: Annotated[bool, typer.Option(help="100 Hz on the CPU only, fewer repeats")] = False,
    repeats: Annotated[
        int, typer.Option(min=1, help="timed repetitions per figure (medians are reported)")
    ] = 5,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="also: robots at 500 Hz (and 100 Hz, without --quick) one serve keeps up with"
        ),
    ] = False,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="Kafka for --serve (default: a local tansu)")
    ] = None,
) -> None:
    """Time MTS-Flow's forward, forward + localization and training step (100 Hz and 500 Hz;
    CUDA when present) side by side with the straightforward reference computation, signal
    frame decoding, and with --serve the streaming service end to end."""
    import torch

    from robotwatch.bench.decoding import bench_frames
    from robotwatch.bench.flow import bench_flow

    settings = [("cpu", 100.0, 1150, 2, 16, 8)]
    if not quick:
        settings.append(("cpu", 500.0, 5750, 10, 4, 4))
        if torch.cuda.is_available():
            settings += [("cuda", 100.0, 1150, 2, 64, 8), ("cuda", 500.0, 5750, 10, 16, 8)]
    figures = []
    for device, rate, steps, dilation, batch, train_batch in settings:
        with console.status(f"MTS-Flow at {rate:g} Hz ({steps} steps) on {device}"):
            figures.append(
                bench_flow(
                    rate_hz=rate,
                    n_steps=steps,
                    dilation=dilation,
                    batch=batch,
                    train_batch=train_batch,
                    repeats=repeats if not quick else 3,
                    device=device,
                )
            )
    with console.status("signal frame decoding"):
        frames = bench_frames()
    serving = []  # one run per rate, 500 Hz first
    if serve:
        from robotwatch.bench.serve import bench_serve

        for rate in (500.0,) if quick else (500.0, 100.0):
            with console.status(f"serve: raising the robots at {rate:g} Hz until it falls behind") as status:

                def progress(s, rate: float = rate) -> None:
                    verdict = "kept up" if s.kept_up else "fell behind"
                    status.update(f"serve at {rate:g} Hz: {s.robots} robots {verdict}, trying more")

                serving.append(bench_serve(bootstrap_servers, rate_hz=rate, on_step=progress))
    main = figures[0]
    if json_output:
        payload = {
            "n_parameters": main.n_parameters,
            "forward_ms_per_cycle": main.forward_ms_per_cycle,
            "localize_ms_per_cycle": main.localize_ms_per_cycle,
            "train_step_ms_per_cycle": main.train_step_ms_per_cycle,
            "thesis_score_ms_per_cycle": main.thesis_score_ms_per_cycle,
            "recommended_score_ms_per_cycle": main.recommended_score_ms_per_cycle,
            "threads": torch.get_num_threads(),
            "flow": [f.as_dict() for f in figures],
            "decode_frames_per_s": frames.decode_frames_per_s,
            "frames": frames.as_dict(),
        }
        if serving:
            first = serving[0]
            payload |= {
                "max_robots_500hz": first.max_robots,
                "latency_p50_ms": first.latency_p50_ms,
                "latency_p99_ms": first.latency_p99_ms,
                "serve": first.as_dict(),
            }
            for other in serving[1:]:
                payload |= {
                    f"max_robots_{other.rate_hz:g}hz": other.max_robots,
                    f"serve_{other.rate_hz:g}hz": other.as_dict(),
                }
        typer.echo(json.dumps(payload))
        return
    out.print(_flow_table(figures, torch.get_num_threads()))
    for f in figures:
        if f.thesis_score_ms_per_cycle and f.recommended_score_ms_per_cycle:
            ratio = f.recommended_score_ms_per_cycle / f.thesis_score_ms_per_cycle
            out.print(
                f"score as served ({f.device}, {f.rate_hz:g} Hz, batch {f.batch}, whole padded length): "
                f"thesis preset {f.thesis_score_ms_per_cycle:.1f} ms, recommended preset "
                f"{f.recommended_score_ms_per_cycle:.1f} ms per cycle ({ratio:.2f}× the thesis; at most 2×)"
            )
    out.print(
        f"signal frames of {frames.steps} x {frames.signals} ({frames.frame_bytes:,} bytes): decode "
        f"{frames.decode_frames_per_s:,.0f} frames/s on one core (floor 100,000), JSON "
        f"{frames.decode_json_frames_per_s:,.0f} frames/s, encode {frames.encode_frames_per_s:,.0f} frames/s"
    )
    for run in serving:
        out.print(_serve_table(run))


def _flow_table(figures, threads: int):
    from rich.table import Table

    table = Table(
        title=f"MTS-Flow, ms per cycle ({figures[0].n_parameters:,} parameters, {threads} CPU threads)"
    )
    for column in ("setting", "operation", "robotwatch", "reference", "speed-up", "floor"):
        table.add_column(column, justify="left" if column in ("setting", "operation") else "right")
    for f in figures:
        setting = f"{f.device}, {f.rate_hz:g} Hz, T={f.n_steps}"
        rows = [
            ("forward", f.forward_ms_per_cycle, f.reference_forward_ms_per_cycle, f"batch {f.batch}"),
            (
                "forward + localization",
                f.localize_ms_per_cycle,
                f.reference_localize_ms_per_cycle,
                f"batch {f.batch}",
            ),
            (
                "training step",
                f.train_step_ms_per_cycle,
                f.reference_train_step_ms_per_cycle,
                f"batch {f.train_batch}",
            ),
        ]
        for (name, fast, ref, batch), key in zip(rows, FLOORS_100HZ, strict=True):
            floor = ""
            if f.device == "cpu" and f.rate_hz == 100.0:
                ok = fast <= FLOORS_100HZ[key]
                floor = f"[{'green' if ok else 'red'}]≤ {FLOORS_100HZ[key]:.0f}[/]"
            table.add_row(
                setting, f"{name} ({batch})", f"{fast:.1f}", f"{ref:.1f}", f"{ref / fast:.2f}×", floor
            )
            setting = ""
    onnx = [f for f in figures if f.onnxruntime_forward_ms_per_cycle is not None]
    for f in onnx:
        table.add_row(
            f"{f.device}, {f.rate_hz:g} Hz, T={f.n_steps}",
            f"forward in onnxruntime (batch {f.batch})",
            f"{f.onnxruntime_forward_ms_per_cycle:.1f}",
            f"{f.reference_forward_ms_per_cycle:.1f}",
            f"{f.reference_forward_ms_per_cycle / f.onnxruntime_forward_ms_per_cycle:.2f}×",
            "",
        )
    worst_torch = max(f.max_score_rel_diff for f in figures)
    caption = f"max relative score difference to the reference: {worst_torch:.1e}"
    if onnx:
        worst = max(f.onnxruntime_max_score_rel_diff or 0.0 for f in onnx)
        caption += f" (onnxruntime {worst:.1e}; the ONNX graph has no localization, torch does that)"
    table.caption = caption
    return table


def _serve_table(figures):
    from rich.table import Table

    table = Table(
        title=f"serve: {figures.max_robots} robots at {figures.rate_hz:g} Hz kept up (floor 200); "
        f"cycle end -> verdict p50 {figures.latency_p50_ms:.0f} ms, p99 {figures.latency_p99_ms:.0f} ms "
        f"(floor 1000)"
    )
    for column in (
        "robots",
        "cycles",
        "scored",
        "flagged",
        "max lag",
        "end lag",
        "publisher late",
        "p50 ms",
        "p99 ms",
        "in serve p50/p99 ms",
        "serve CPU ms per robot-s",
        "serve MB (per robot)",
        "cores: serve / broker / publisher / machine",
        "kept up",
    ):
        table.add_column(column, justify="right")
    for s in figures.steps:
        table.add_row(
            str(s.robots),
            str(s.cycles_expected),
            str(s.cycles_scored),
            f"{s.flagged_fraction:.0%}",
            str(s.max_lag),
            str(s.end_lag),
            f"{s.publisher_late_s:.2f} s",
            f"{s.latency_p50_ms:.0f}",
            f"{s.latency_p99_ms:.0f}",
            f"{s.service_latency_p50_ms:.0f}/{s.service_latency_p99_ms:.0f}",
            f"{s.serve_cpu_ms_per_robot_s:.1f}",
            f"{s.serve_rss_mb:.0f} ({s.rss_mb_per_robot:.1f})",
            f"{s.serve_cores:.2f} / {'-' if s.broker_cores is None else f'{s.broker_cores:.2f}'} / "
            f"{s.publisher_cores:.2f} / {s.machine_busy_cores:.2f} of {s.machine_cores}",
            "[green]yes[/]" if s.kept_up else "[red]no[/]",
        )
    table.caption = (
        f"localize = {figures.localize}; latency = last frame published -> verdict's broker timestamp; "
        f"in serve = cycle closed -> verdict made; cores = CPU time / stream time (the broker's "
        f"where it is the bench's own)"
    )
    return table
