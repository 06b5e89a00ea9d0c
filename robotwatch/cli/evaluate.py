"""`robotwatch evaluate`: the voraus-AD protocol for MTS-Flow and the thesis' baselines."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from robotwatch.cli.console import console, out, user_errors
from robotwatch.mtsflow.presets import DEFAULT_PRESET, Preset

if TYPE_CHECKING:
    from robotwatch.mtsflow.model_file import TrainedModel

BASELINE_NAMES = ("1nn", "pca", "cae", "hmm", "lstm-vae")
TRAINED_BASELINES = {"cae": 50, "lstm-vae": 90}  # their own epochs, unless --epochs is given


def evaluate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="[MODEL] DATA: a model file and a voraus-AD file, or DATA alone "
            "(then MTS-Flow is trained first, or a baseline fitted)"
        ),
    ],
    method: Annotated[str, typer.Option(help="mtsflow, 1nn, pca, cae, hmm or lstm-vae")] = "mtsflow",
    compare: Annotated[
        str, typer.Option(help="baselines to run side by side, e.g. 1nn,pca,cae,hmm,lstm-vae")
    ] = "",
    runs: Annotated[
        int, typer.Option(min=1, help="train and evaluate this many seeds; report mean ± std")
    ] = 1,
    json_output: Annotated[
        bool, typer.Option("--json", help="print one JSON object instead of tables")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="write ROC curves, histograms and example cycles here")
    ] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda[:N]")] = "auto",
    epochs: Annotated[
        int,
        typer.Option(
            min=1, help="epochs when training here (MTS-Flow: 70; CAE: 50, LSTM-VAE: 90 unless given)"
        ),
    ] = 70,
    batch_size: Annotated[int, typer.Option(min=1, help="batch size when training MTS-Flow here")] = 32,
    rate: Annotated[
        float, typer.Option(min=0.1, help="sample rate when training or fitting here, Hz")
    ] = 100.0,
    signals: Annotated[str, typer.Option(help="signal group when training or fitting here")] = "machine",
    seed: Annotated[int, typer.Option(help="first seed when training here")] = 177,
    preset: Annotated[Preset, typer.Option(help="MTS-Flow's preset when training here")] = DEFAULT_PRESET,
) -> None:
    """AUROC per anomaly category against all normal test cycles (voraus-AD protocol), their
    mean, and the localization error where the data has ground truth."""
    from replay.schema import signal_group
    from robotwatch.evaluation import (
        aggregate_runs,
        auroc_table,
        category_aurocs,
        localization_summary,
        localization_table,
        results_json,
    )

    if method not in ("mtsflow", *BASELINE_NAMES):
        raise typer.BadParameter(f"unknown method {method!r}", param_hint="--method")
    baselines = [b.strip() for b in compare.split(",") if b.strip()]
    unknown = [b for b in baselines if b not in BASELINE_NAMES]
    if unknown:
        raise typer.BadParameter(f"unknown baseline(s) {', '.join(unknown)}", param_hint="--compare")
    if len(paths) not in (1, 2) or (len(paths) == 2 and method != "mtsflow"):
        raise typer.BadParameter("give MODEL DATA for MTS-Flow, or DATA alone", param_hint="PATHS")
    if len(paths) == 2 and runs > 1:
        raise typer.BadParameter("--runs trains new models: give DATA alone", param_hint="--runs")
    data = paths[-1]

    with user_errors():
        runs_by_method: dict[str, list] = {}
        models: list[TrainedModel] = []
        if method == "mtsflow":
            models = _models(
                paths,
                runs,
                data,
                epochs=epochs,
                batch_size=batch_size,
                rate=rate,
                signals=signals,
                seed=seed,
                device=device,
                preset=preset,
            )
            from robotwatch.evaluation.protocol import evaluate_model

            for model in models:
                result = _with_progress(
                    f"scoring {data.name} with {model.model_id}",
                    data,
                    lambda tick, m=model: evaluate_model(m, data, device, tick),
                )
                runs_by_method.setdefault(result.name, []).append(result)
            group, fit_rate = models[0].card.signals, models[0].card.sample_rate_hz
            exclude = models[0].card.training.calibration_samples
        else:
            baselines = [method, *[b for b in baselines if b != method]]
            group, fit_rate, exclude = list(signal_group(signals)), rate, []
        for name in baselines:
            from robotwatch.evaluation.protocol import evaluate_baseline

            seeds = range(seed, seed + (runs if name in TRAINED_BASELINES else 1))
            for s in seeds:
                options = _baseline_options(name, s, device, epochs, fit_rate)
                with console.status(f"fitting {name} on the training cycles of {data.name} and scoring"):
                    result = evaluate_baseline(
                        name, data, group, fit_rate, exclude_samples=exclude, options=options
                    )
                runs_by_method.setdefault(result.name, []).append(result)

        summaries = {
            name: aggregate_runs([category_aurocs(r.results) for r in rs])
            for name, rs in runs_by_method.items()
        }
        first = next(iter(runs_by_method.values()))
        localization = {
            name: localization_summary(rs[0].results)
            for name, rs in runs_by_method.items()
            if name == "MTS-Flow" and rs[0].results["truth_start_s"].notna().any()
        }
        skipped = first[0].skipped

    if json_output:
        main_name = next(iter(summaries))
        payload = results_json(summaries[main_name], localization.get(main_name))
        payload["method"] = main_name
        payload["skipped"] = [{"sample": s, "reason": r} for s, r in skipped]
        if models:
            payload["model_ids"] = [m.model_id for m in models]
        others = {n: results_json(s) for n, s in summaries.items() if n != main_name}
        if others:
            payload["baselines"] = others
        typer.echo(json.dumps(payload))
    else:
        tables = [auroc_table(summaries)]
        if localization:
            tables.append(localization_table(localization))
        for table in tables:
            out.print(table)
    for sample, reason in skipped:
        console.print(f"[yellow]skipped[/] cycle {sample}: {reason}")

    if report is not None:
        with user_errors(), console.status("writing the report"):
            from robotwatch.evaluation.examples import example_views, localize_for_report
            from robotwatch.evaluation.report import AlarmSource, write_report

            views, alarms = [], None
            if models:
                # the false alarms localized too, so that the alarmed table says where they alarmed
                flow = localize_for_report(models[0], data, runs_by_method["MTS-Flow"][0], device)
                runs_by_method["MTS-Flow"][0] = flow
                views = example_views(models[0], data, flow)
                card = models[0].card
                alarms = AlarmSource(
                    flow.results, card.threshold, flow.name, data.name, card.calibration_scores
                )
            index = write_report(
                report,
                {name: rs[0].results for name, rs in runs_by_method.items()},
                thresholds={
                    name: rs[0].threshold
                    for name, rs in runs_by_method.items()
                    if rs[0].threshold is not None
                },
                cycles=views,
                tables=[
                    auroc_table(summaries),
                    *([localization_table(localization)] if localization else []),
                ],
                title=f"robotwatch evaluation of {data.name}",
                alarms=alarms,
            )
        console.print(f"[bold green]report[/] {index}")


def _baseline_options(name: str, seed: int, device: str, epochs: int, rate: float) -> dict[str, object]:
    if name not in TRAINED_BASELINES:
        return {}
    options: dict[str, object] = {
        "seed": seed,
        "device": device,
        "epochs": epochs if epochs != 70 else TRAINED_BASELINES[name],
    }
    if name == "lstm-vae":
        options["input_rate_hz"] = rate
    return options


def _models(
    paths: list[Path],
    runs: int,
    data: Path,
    *,
    epochs: int,
    batch_size: int,
    rate: float,
    signals: str,
    seed: int,
    device: str,
    preset: Preset,
) -> list[TrainedModel]:
    """The model given, or `runs` fresh ones trained on DATA with consecutive seeds."""
    from robotwatch.mtsflow.model_file import load_model

    if len(paths) == 2:
        return [load_model(paths[0])]
    from robotwatch.cli.progress import train_with_progress

    console.print(
        f"training {runs} MTS-Flow model(s) on {data.name} first (give MODEL DATA to evaluate a trained one)"
    )
    with tempfile.TemporaryDirectory(prefix="robotwatch-eval-") as tmp:
        return [
            train_with_progress(
                data,
                Path(tmp) / f"run{k}.rwmodel",
                epochs=epochs,
                batch_size=batch_size,
                rate=rate,
                signals=signals,
                seed=seed + k,
                device=device,
                learning_rate=8e-4,
                preset=preset,
            )
            for k in range(runs)
        ]


def _with_progress(description: str, data: Path, work):
    """Run work(tick) under a progress bar counting the file's test cycles."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from replay import VorausFile

    total = sum(1 for info in VorausFile(data, signals=()).cycle_infos() if not info.is_train)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        return work(lambda: bar.advance(task))
