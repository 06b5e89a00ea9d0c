"""`robotwatch simulate`: write a voraus-AD-format table of a simulated pick-and-place cell."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, out


def simulate(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="voraus-AD parquet file to write")],
    cycles: Annotated[
        int,
        typer.Option(
            help="number of cycles; the real dataset's split (948 train, 419 normal test, "
            "755 anomalies) scaled"
        ),
    ] = 2122,
    rate: Annotated[int, typer.Option(help="sample rate of the table, Hz: 100 or 500")] = 100,
    anomalies: Annotated[
        str, typer.Option(help="all, none, or comma-separated categories, e.g. collision_foam,lose_can")
    ] = "all",
    profile: Annotated[str, typer.Option(help="cell profile: a built-in name or a TOML file")] = "default",
    seed: Annotated[int, typer.Option(help="seed; a cycle depends only on it and its sample id")] = 0,
) -> None:
    """Simulate a 6-axis cobot doing pick-and-place; the ground truth goes to <out stem>.truth.parquet."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from replay.schema import Category
    from replay.simulator.dataset import write_dataset
    from replay.simulator.plan import parse_categories
    from replay.simulator.profile import ProfileError, load_profile
    from replay.simulator.simulate import RATES

    if rate not in RATES:
        raise typer.BadParameter(f"{rate} Hz is not a voraus-AD rate; use 100 or 500", param_hint="--rate")
    if cycles < 1:
        raise typer.BadParameter(f"need at least 1 cycle, got {cycles}", param_hint="--cycles")
    try:
        categories = parse_categories(anomalies)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--anomalies") from None
    try:
        cell = load_profile(profile)
    except ProfileError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from None
    if not out_path.parent.is_dir():
        raise typer.BadParameter(f"folder {out_path.parent} does not exist", param_hint="--out")

    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cycles"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("cycles", total=cycles)
        summary = write_dataset(
            out_path,
            cell,
            n_cycles=cycles,
            rate=rate,
            categories=categories,
            seed=seed,
            progress=lambda n: bar.advance(task, n),
        )
    seconds = time.perf_counter() - started

    table = Table(title=f"{summary.cycles} cycles of cell '{cell.name}' at {rate} Hz, seed {seed}")
    table.add_column("category")
    table.add_column("cycles", justify="right")
    for name, count in sorted(summary.per_category.items(), key=lambda kv: Category[kv[0]]):
        table.add_row(name.lower(), str(count))
    out.print(table)
    out.print(
        f"[bold green]wrote[/] {summary.path} ({summary.rows:,} rows) and ground truth {summary.truth} "
        f"in {seconds:.1f} s ({summary.cycles / seconds:.1f} cycles/s)"
    )
