"""What happened, in the words a maintenance engineer reads: which robot, which cycle, at what
time of day, how far over the threshold, when in the cycle and during which program step,
which axis and signals, and where the picture is."""

from __future__ import annotations

import math
import string
from datetime import datetime, tzinfo

from robotwatch.alerts.facts import happened_at, severity, subject
from robotwatch.alerts.settings import Kind
from robotwatch.stream.verdicts import Verdict


def ratio_text(ratio: float) -> str:
    """4.3×, 27×, 1,250×, 1.9 million×: a ratio a person can say aloud."""
    if ratio < 10:
        return f"{ratio:.1f}×"
    if ratio < 1e6:
        return f"{ratio:,.0f}×"
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if ratio >= size:
            return f"{ratio / size:,.1f} {word}×"
    raise AssertionError("unreachable")


def number(x: float) -> str:
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
    return f"{x:.2e}"


def how_far(verdict: Verdict) -> str:
    """`4.3× the threshold (48,211 against 11,120)`; a score that is not finite says so."""
    ratio = severity(verdict)
    if ratio is not None and math.isinf(ratio):
        return "the score is not finite: beyond any multiple of the threshold"
    assert verdict.score is not None
    if ratio is None:
        return f"score {number(verdict.score)} against a threshold of 0"
    return f"{ratio_text(ratio)} the threshold ({number(verdict.score)} against {number(verdict.threshold)})"


def worst_text(ratio: float | None) -> str:
    if ratio is None:
        return "no ratio"
    return "a score that is not finite" if math.isinf(ratio) else f"{ratio_text(ratio)} the threshold"


def clock(moment: datetime, zone: tzinfo | None, date: bool = True) -> str:
    """`2026-11-28 14:22:38 CET` in the configured zone (None: this host's)."""
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if date else "%H:%M:%S")


def what(verdict: Verdict, plural: bool = False) -> str:
    if verdict.source == "vision":
        return "camera frames" if plural else "camera frame"
    return "cycles" if plural else "cycle"


def picture(verdict: Verdict, template: str | None) -> str | None:
    """The anomaly map a vision verdict kept, or the robot cycle's picture from the template."""
    if verdict.image is not None and verdict.image.map_path:
        return verdict.image.map_path
    if template is None or verdict.source != "robot":
        return None
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    values = {name: getattr(verdict, name) for name in fields}
    return template.format(**{k: "" if v is None else v for k, v in values.items()})


def detail_line(verdict: Verdict, zone: tzinfo | None, template: str | None = None) -> str:
    """One verdict in one sentence or three."""
    thing = "Camera frame of cycle" if verdict.source == "vision" else "Cycle"
    when = clock(happened_at(verdict), zone)
    if verdict.status == "error":
        return (
            f"{thing} {verdict.cycle_id} at {when} could not be scored: {verdict.error or 'no reason given'}."
        )
    parts = [f"{thing} {verdict.cycle_id} at {when}: {how_far(verdict)}"]
    if verdict.events:
        event = verdict.events[0]
        step = f" during {event.action}" if event.action else ""
        parts.append(f", {event.time_s:.1f} s into the cycle{step}")
        if event.top_axes:
            axes = " and ".join(f"axis {a.axis} ({a.share:.0%})" for a in event.top_axes[:2])
            parts.append(f"; mostly {axes}")
        if event.top_signals:
            signals = ", ".join(f"{s.signal} ({s.share:.0%})" for s in event.top_signals[:3])
            parts.append(f"; signals {signals}")
        if len(verdict.events) > 1:
            later = ", ".join(f"{e.time_s:.1f} s" for e in verdict.events[1:])
            parts.append(f"; also at {later}")
    if verdict.image is not None:
        image = verdict.image
        parts.append(
            f"; the anomaly peaks at x {image.peak_x}, y {image.peak_y} and covers "
            f"{image.area_fraction:.1%} of the image"
        )
    text = "".join(parts) + "."
    flags = verdict.flags
    if flags.incomplete:
        text += " The cycle was cut short (the robot went quiet, paused, changed rate or rebooted)."
    if flags.gap:
        text += f" {flags.gap_steps} controller step(s) were lost in it."
    if flags.truncated:
        text += " It ran longer than the model's cycle length (the end was not scored)."
    if verdict.note:
        text += f" Note: {verdict.note.rstrip('.')}."
    shown = picture(verdict, template)
    if shown:
        text += f" Picture: {shown}"
    return text


def title(kind: Kind, verdicts: list[Verdict], count: int, zone: tzinfo | None) -> str:
    """The subject line: whose, how many, when, and the worst."""
    first = verdicts[0]
    who = subject(first)
    times = sorted(happened_at(v) for v in verdicts)
    span = f"at {clock(times[0], zone, date=False)}"
    if count > 1 and clock(times[-1], zone, date=False) != clock(times[0], zone, date=False):
        span = f"{clock(times[0], zone, date=False)}–{clock(times[-1], zone, date=False)}"
    if kind == "error":
        if count == 1:
            return f"{who}: {what(first)} {first.cycle_id} could not be scored {span}"
        return f"{who}: {count} {what(first, plural=True)} could not be scored {span}"
    ratios = [r for r in map(severity, verdicts) if r is not None]
    worst = worst_text(max(ratios) if ratios else None)
    if count == 1:
        return f"{who}: anomalous {what(first)} {first.cycle_id} {span}, {worst}"
    return f"{who}: {count} anomalous {what(first, plural=True)} {span}, worst {worst}"
