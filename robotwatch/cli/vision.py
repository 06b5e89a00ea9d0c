"""`robotwatch vision …`: train, evaluate and run the image flows (DifferNet, CS-Flow, AST).

torch and the vision package are imported inside each command so that `robotwatch --help`
stays fast.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, out, user_errors

app = typer.Typer(
    help="Anomaly detection on camera images of the cell (thesis ch. 4-6).", no_args_is_help=True
)


class Method(StrEnum):
    csflow = "csflow"
    differnet = "differnet"
    ast = "ast"


class Pose(StrEnum):
    place = "place"
    pick = "pick"


def _overrides(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        result[key.strip().replace("-", "_")] = json.loads(value) if value[:1] in "[{" else value
    return result


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="dataset in MVTec AD layout (trains on train/good)")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="model file to write (.safetensors)")],
    method: Annotated[Method, typer.Option(help="csflow, differnet or ast")] = Method.csflow,
    epochs: Annotated[
        int | None,
        typer.Option(min=1, help="training epochs (AST: of teacher and of student); default per method"),
    ] = None,
    image_size: Annotated[int, typer.Option(min=32, help="images are resized to PX × PX")] = 384,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = "auto",
    seed: Annotated[int, typer.Option(help="seed of weights, held-out split and batch order")] = 0,
    holdout: Annotated[
        float, typer.Option(min=0.01, max=0.9, help="share of train/good held out to set the thresholds")
    ] = 0.15,
    target_fpr: Annotated[
        float, typer.Option(help="false-positive rate the thresholds aim at on normal images")
    ] = 0.01,
    backbone: Annotated[
        str, typer.Option(help="EfficientNet variant; other than lite0 needs --backbone-weights")
    ] = "efficientnet-lite0",
    backbone_weights: Annotated[
        Path | None, typer.Option(help="local weights file for a larger backbone (.pth or .safetensors)")
    ] = None,
    set_: Annotated[
        list[str],
        typer.Option("--set", help="any method setting, e.g. --set hidden=1024 --set use_depth=true"),
    ] = [],  # noqa: B006
) -> None:
    """Train a detector on the normal images of DIR and calibrate its thresholds."""
    from vision.config import METHODS
    from vision.engine.fit import fit
    from vision.model_file import save_model

    with user_errors():
        settings = {"image_size": image_size, "backbone": backbone, **_overrides(set_)}
        if epochs is not None:
            settings["epochs"] = epochs
        config = METHODS[method.value](**settings)

        def progress(log) -> None:
            console.print(
                f"{log.stage} epoch {log.epoch}/{log.epochs}  loss {log.loss:.4f}  {log.seconds:.1f} s"
            )

        detector, meta = fit(
            data,
            config,
            device=device,
            seed=seed,
            holdout=holdout,
            target_fpr=target_fpr,
            backbone_weights=backbone_weights,
            on_epoch=progress,
        )
        save_model(out_path, detector, meta)
    t = meta.thresholds
    console.print(
        f"[bold green]saved[/] {out_path}: {method.value} on {meta.training.images} images "
        f"at {config.image_size} px, "
        f"threshold {t.score:.4g} (target FPR {t.target_fpr:.1%} on {t.n_normal} held-out normal images), "
        f"{meta.training.seconds:.0f} s"
    )


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="model file from `robotwatch vision train`")],
    data: Annotated[Path, typer.Argument(help="dataset in MVTec AD layout (evaluates test/*)")],
    report: Annotated[
        Path | None, typer.Option(help="folder for ROC curves, histograms, overlays and metrics.json")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N]")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="images per batch")] = 4,
) -> None:
    """Image- and pixel-level AUROC on the test set, overall and per defect type."""
    from vision.evaluation.evaluate import compute_metrics, score_test_set
    from vision.evaluation.report import write_report
    from vision.model_file import load_model

    with user_errors():
        detector, meta = load_model(model, device)
        scores = score_test_set(detector, data, batch_size)
        result = compute_metrics(scores, meta.thresholds, meta.config.method, data, meta.config.image_size)
        if report is not None:
            write_report(scores, result, report)
    if as_json:
        out.print_json(result.model_dump_json())
        return
    from rich.table import Table

    def fmt(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    table = Table(title=f"{result.method} on {data}")
    for col in ("defect", "images", "image AUROC", "pixel AUROC", "detected"):
        table.add_column(col, justify="left" if col == "defect" else "right")
    for name, m in result.auroc_by_defect.items():
        table.add_row(name, str(m.images), fmt(m.image_auroc), fmt(m.pixel_auroc), f"{m.detected:.0%}")
    table.add_row(
        "[bold]all",
        str(len(scores.samples)),
        fmt(result.image_auroc),
        fmt(result.pixel_auroc),
        "",
        style="bold",
    )
    out.print(table)
    out.print(
        f"threshold {result.threshold:.4g}: {result.false_positive_rate:.1%} of "
        f"{result.normal_images} normal test images above it"
    )
    if report is not None:
        out.print(f"report written to {report}")


@app.command()
def score(
    model: Annotated[Path, typer.Argument(help="model file")],
    images: Annotated[list[Path], typer.Argument(help="PNG or JPEG frames")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    maps: Annotated[
        Path | None, typer.Option(help="folder to save each frame's anomaly map overlay as PNG")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N]")] = "auto",
) -> None:
    """Score frames: anomaly score, verdict and where the anomaly is."""
    from vision.deploy import FrameScorer, ImageError, save_map_png

    with user_errors():
        scorer = FrameScorer(model, device)
        failed = 0
        for i, path in enumerate(images):
            try:
                frame = scorer.decode(path.read_bytes())
                (result,) = scorer.score([frame])
            except ImageError as exc:  # as the stream would dead-letter it: say why, go on
                console.print(f"[bold red]{path}:[/] {exc}", soft_wrap=True)
                failed += 1
                continue
            if maps is not None:
                save_map_png(
                    result.anomaly_map,
                    maps / f"{i:03d}_{path.stem}_map.png",
                    frame,
                    vmax=2 * scorer.meta.thresholds.map,
                )
            if as_json:
                out.print(json.dumps({"image": str(path), **result.model_dump(mode="json")}), soft_wrap=True)
                continue
            loc = result.localization
            verdict = "[bold red]ANOMALOUS[/]" if result.anomalous else "[green]normal[/]"
            box = (
                ""
                if loc.bbox is None
                else f"  region x {loc.bbox[0]}-{loc.bbox[2]}, y {loc.bbox[1]}-{loc.bbox[3]}"
            )
            out.print(
                f"{path}: {verdict}  score {result.score:.4g} (threshold {result.threshold:.4g})  "
                f"peak ({loc.peak_x}, {loc.peak_y}){box}"
            )
    if failed:
        raise typer.Exit(1)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="folder to write the dataset into")],
    images: Annotated[int, typer.Option(min=1, help="normal training images")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the cell (table) and of every frame")] = 0,
    size: Annotated[int, typer.Option(min=32, help="frame width and height in pixels")] = 384,
    pose: Annotated[
        Pose, typer.Option(help="place: can on the target; pick: can in the gripper")
    ] = Pose.place,
    test_per_defect: Annotated[
        int | None, typer.Option(help="test images per defect type (default images/10, ≥ 4)")
    ] = None,
) -> None:
    """Render a synthetic cell camera dataset in MVTec layout, with masks and depth maps."""
    from vision.simulate import simulate_dataset

    summary = simulate_dataset(
        out_dir, images=images, seed=seed, size=size, pose=pose.value, test_per_defect=test_per_defect
    )
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    console.print(f"[bold green]wrote[/] {out_dir}: {counts}")


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    image_size: Annotated[int, typer.Option(min=32, help="frame size in pixels")] = 384,
    methods: Annotated[
        list[Method] | None, typer.Option("--method", help="methods to measure (default: all)")
    ] = None,
    frames: Annotated[int, typer.Option(min=1, help="frames timed per method")] = 20,
    train_images: Annotated[
        int, typer.Option(help="images for the training-memory measurement (0 skips it)")
    ] = 200,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda[:N]")] = "cpu",
) -> None:
    """Frames per second of each method (backbone + flow) and peak memory of training."""
    from vision.bench import run_bench

    chosen = [m.value for m in methods] if methods else [m.value for m in Method]
    result = run_bench(
        chosen,
        image_size=image_size,
        frames=frames,
        train_images=train_images,
        device=device,
        log=lambda msg: console.print(msg),
    )
    if as_json:
        out.print_json(result.model_dump_json())
        return
    from rich.table import Table

    table = Table(title=f"vision bench at {image_size} px on {result.device} ({result.threads} threads)")
    for col in ("method", "frames/s", "ms/frame", "train peak RSS", "train s/epoch"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, m in result.methods.items():
        mem = "-" if m.train_peak_rss_mb is None else f"{m.train_peak_rss_mb:.0f} MB"
        sec = "-" if m.train_seconds_per_epoch is None else f"{m.train_seconds_per_epoch:.0f}"
        table.add_row(name, f"{m.frames_per_second:.2f}", f"{1000 / m.frames_per_second:.0f}", mem, sec)
    out.print(table)
    if train_images:
        out.print(f"training memory: {train_images} images, one epoch, in a fresh process each")
