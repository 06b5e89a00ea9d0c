"""One scored cycle as a picture (thesis Fig. 8.7): its top signal against the nearest normal
training cycle, normalized as the model sees it and in physical units beside it, the
input-gradient profile with the found events and the ground truth, and the program's steps.

The title says first what the plant user needs: whether the cycle alarmed and how strongly,
`ALARMED (4.3× the threshold)` or `MISSED (0.6× the threshold)`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from replay.schema import Action, Category
from robotwatch.evaluation.alarms import verdict_text

if TYPE_CHECKING:  # only for annotations: importing it at run time would pull in torch
    from robotwatch.mtsflow.localize import Event

# The voraus-AD program's step names, for a view that does not name its program's steps.
VORAUS_STEPS: dict[int, str] = {int(a): a.name for a in Action}


@dataclass(frozen=True)
class CycleView:
    """What the cycle figure shows of one scored cycle; arrays at the model's sample rate.

    `signal` and `reference` hold the cycle's and its nearest normal training cycle's values
    of `signal_name`, normalized ((x - mean) / std with the model's normalizer; `scale` is that
    (mean, std), so that the physical value in `unit` can be shown beside); `profile` is the
    cycle's smoothed input-gradient profile; `truth_s` the ground-truth event interval where
    known; `steps` the program's step names by action code; `percentile` the share of the
    model's `n_normal` held-out normal cycles that scored lower; `why` why it was picked.
    """

    sample: int
    category: str
    score: float
    sample_rate_hz: float
    signal_name: str
    signal: np.ndarray
    reference: np.ndarray
    profile: np.ndarray
    events: Sequence[Event] = ()
    truth_s: tuple[float, float] | None = None
    actions: np.ndarray | None = None
    reference_sample: int | None = None
    threshold: float | None = None
    scale: tuple[float, float] | None = None
    unit: str | None = None
    steps: Mapping[int, str] | None = None
    percentile: float = math.nan
    n_normal: int = 0
    why: str = ""

    @property
    def anomalous(self) -> bool:
        return self.category != Category.NORMAL_OPERATION.name

    @property
    def verdict(self) -> str:
        """`ALARMED (4.3× the threshold)`, `MISSED (0.6× the threshold)`, ..."""
        return verdict_text(self.score, self.threshold, self.anomalous)

    @property
    def compared(self) -> str:
        """How the score ranks among the held-out normal cycles; empty where unknown."""
        if math.isnan(self.percentile):
            return ""
        if self.percentile >= 100:
            return f"above all {self.n_normal} held-out normal cycles"
        return f"above {self.percentile:.0f} % of the {self.n_normal} held-out normal cycles"


def top_signal(events: Sequence[Event]) -> str | None:
    """The signal carrying most of the gradient at the strongest event; None without events."""
    if not events:
        return None
    strongest = max(events, key=lambda e: e.strength)
    return strongest.top_signals[0][0] if strongest.top_signals else None


def action_segments(actions: np.ndarray) -> list[tuple[int, int, int]]:
    """(first step, end step, action) of each run of one action."""
    change = np.flatnonzero(np.diff(actions.astype(int))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(actions)]])
    return [(int(a), int(b), int(actions[a])) for a, b in zip(starts, ends, strict=True)]


def step_numbers(actions: np.ndarray, steps: Mapping[int, str]) -> dict[int, tuple[int, str]]:
    """Action code -> (number, name) of the steps present, numbered in the program's order
    (codes the program does not know after them), for the band's labels and its legend."""
    present = {int(a) for a in np.unique(actions)}
    order = [c for c in steps if c in present] + sorted(present - set(steps))
    return {code: (i + 1, steps.get(code, f"code {code}")) for i, code in enumerate(order)}


def cycle_figure(view: CycleView, path: Path) -> Path:
    """The cycle's signal against its nearest normal cycle, the gradient profile with events
    and ground truth below, and the program's steps as a numbered band with a legend."""
    rate = view.sample_rate_hz
    actions = view.actions if view.actions is not None and len(view.actions) else None
    ratios = [3, 2, 0.35] if actions is not None else [3, 2]
    fig = Figure(figsize=(10, 6.8 if actions is not None else 6.0), layout="constrained")
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    top, mid = axes[0], axes[1]
    reference_label = "nearest normal training cycle"
    if view.reference_sample is not None:
        reference_label += f" (sample {view.reference_sample})"
    top.plot(
        np.arange(len(view.reference)) / rate, view.reference, color="0.45", lw=1.2, label=reference_label
    )
    top.plot(np.arange(len(view.signal)) / rate, view.signal, color="tab:red", lw=1.2, label="this cycle")
    top.set_ylabel(f"{view.signal_name}\n(normalized: (x − mean) / std)")
    if view.scale is not None:
        mean, std = view.scale
        # the same curve read in physical units: z * std + mean on the right-hand axis
        physical = top.secondary_yaxis(
            "right", functions=(lambda z: z * std + mean, lambda v: (v - mean) / std)
        )
        physical.set_ylabel(f"{view.signal_name} [{view.unit or 'physical units'}]")
    top.legend(fontsize=8, loc="best")
    mid.plot(
        np.arange(len(view.profile)) / rate,
        view.profile,
        color="tab:purple",
        lw=1.2,
        label="smoothed |∂score/∂input|, L1 over signals",
    )
    mid.set_ylabel("input gradient")
    mid.margins(y=0.15)  # room for the event labels above the peaks
    if view.truth_s is not None:
        start, end = view.truth_s
        for ax in (top, mid):
            if end > start:
                ax.axvspan(start, end, color="tab:orange", alpha=0.25, lw=0)
            else:
                ax.axvline(start, color="tab:orange", lw=2, alpha=0.6)
        mid.plot([], [], color="tab:orange", alpha=0.5, lw=6, label="ground-truth event")
    for i, event in enumerate(sorted(view.events, key=lambda e: -e.strength)):
        for ax in (top, mid):
            ax.axvline(event.time_s, color="black", ls="--", lw=1.0)
        # the label sits on the profile at the event, where the legend (placed "best") keeps clear
        height = float(view.profile[min(event.step, len(view.profile) - 1)]) if len(view.profile) else 0.0
        label = f"{event.strength:.1f}×" + (f" {event.action}" if event.action else "")
        mid.annotate(label, (event.time_s, height), xytext=(4, 4), textcoords="offset points", fontsize=8)
        if i == 0:
            mid.plot([], [], color="black", ls="--", lw=1.0, label="found events (strength over normal)")
    mid.legend(fontsize=8, loc="best")
    if actions is not None:
        _step_band(fig, axes[2], actions, view.steps or VORAUS_STEPS, rate)
    axes[-1].set_xlabel("time in cycle [s]")
    heading = f"{view.verdict} · sample {view.sample} · {view.category}"
    if view.compared:
        heading += f"\nscore {view.compared}"
    loud = heading.startswith(("ALARMED", "MISSED"))
    fig.suptitle(heading, fontsize=11, color="firebrick" if loud else "black")
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _step_band(fig: Figure, band: Axes, actions: np.ndarray, steps: Mapping[int, str], rate: float) -> None:
    """The steps as coloured segments carrying their number where there is room, and a legend
    `1 VOID_1, 2 TO_SCAN_PTP, ...` below: names written into narrow segments were unreadable."""
    numbered = step_numbers(actions, steps)
    cmap = colormaps["tab20"]
    for a, b, action in action_segments(actions):
        number, _ = numbered[action]
        band.axvspan(a / rate, b / rate, color=cmap((number - 1) % cmap.N), lw=0)
        if (b - a) > 0.02 * len(actions):
            band.text((a + b) / 2 / rate, 0.5, str(number), ha="center", va="center", fontsize=8)
    band.set_yticks([])
    band.set_ylabel("step", rotation=0, ha="right", va="center")
    handles = [
        Patch(color=cmap((number - 1) % cmap.N), label=f"{number} {name}")
        for number, name in sorted(numbered.values())
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(5, len(handles)), fontsize=8)
