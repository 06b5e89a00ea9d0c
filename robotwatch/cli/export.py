"""`robotwatch export`: a model's scoring graph for runtimes without PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from robotwatch.cli.console import console, user_errors


def export(
    model: Annotated[Path, typer.Argument(help="model file (.rwmodel) from `robotwatch train`")],
    onnx: Annotated[Path, typer.Option("--onnx", help="ONNX file to write")],
) -> None:
    """Write the scoring graph in ONNX: normalized cycles zero-padded to the model's length,
    `x` (batch, signals, steps), to `score` per cycle, `step_nll` per step and the latent `z`.
    Localization needs the input gradient and stays with torch."""
    with user_errors():
        from robotwatch.mtsflow.export import export_onnx
        from robotwatch.mtsflow.model_file import load_model

        trained = load_model(model)
        onnx.parent.mkdir(parents=True, exist_ok=True)
        with console.status(f"exporting {model.name}"):
            export_onnx(trained, onnx)
    card = trained.card
    compare = f"threshold {card.threshold:.6g}"
    if card.score_rule is not None:
        compare = (
            f"this model ({card.preset} preset) alarms on the recommended score of step_nll and z "
            f"(robotwatch.mtsflow.recommended_score, with the model file's normal statistics), threshold "
            f"{card.threshold:.6g}; the graph's score is the whole cycle's NLL"
        )
    console.print(
        f"[bold green]wrote[/] {onnx}: x (batch, {len(card.signals)} signals, {card.padded_length} steps "
        f"at {card.sample_rate_hz:g} Hz) -> score, step_nll, z; {compare}",
        soft_wrap=True,
    )
