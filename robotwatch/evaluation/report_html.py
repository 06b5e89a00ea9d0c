"""The report's index.html: the rates at the threshold, the alarmed cycles as a real table,
the metric tables, then the figures with their captions. Plain strings, escaped."""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from robotwatch.evaluation.alarms import AlarmRow, Rate, percentile_text
from rwcore.thresholds import severity_text

STYLE = (
    "body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#111}"
    "img{max-width:100%;border:1px solid #ddd}figure{margin:0 0 2.5em}"
    "figcaption{color:#333;margin-top:.4em}pre.table{font-size:13px;line-height:1.25}"
    "table.alarmed,table.rates{border-collapse:collapse;font-size:14px;margin:.5em 0 1.5em}"
    "table.alarmed th,table.alarmed td,table.rates th,table.rates td"
    "{border:1px solid #bbb;padding:3px 8px;text-align:left}"
    "table.alarmed th,table.rates th{background:#eee}td.num{text-align:right}"
    "tr.false-alarm td{background:#fff4e0}p.note{color:#444}"
)
ALARM_COLUMNS = ("robot", "cycle", "time", "severity", "truth (label)", "event at", "step", "axis", "signal")


def esc(value: object) -> str:
    return html.escape(str(value))


def rates_html(rates: Sequence[Rate], threshold_note: str) -> str:
    """The realized false-alarm and detection rates, one sentence each for the two that matter
    most, and a table with every group's counts."""
    lines = "".join(f'<p class="rate" data-group="{esc(r.group)}">{esc(r.text())}</p>' for r in rates[:2])
    rows = "".join(
        f'<tr data-group="{esc(r.group)}"><td>{esc(r.kind)}</td><td>{esc(r.group)}</td>'
        f'<td class="num">{r.alarmed}</td><td class="num">{r.total}</td>'
        f'<td class="num">{"–" if math.isnan(r.fraction) else f"{100 * r.fraction:.1f} %"}</td></tr>'
        for r in rates
    )
    return (
        '<section id="rates"><h2>At the threshold</h2>'
        f'<p class="note">{esc(threshold_note)}</p>{lines}'
        '<table class="rates"><thead><tr><th>rate</th><th>test cycles</th><th>alarmed</th>'
        f"<th>of</th><th>rate</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def alarms_html(rows: Sequence[AlarmRow], n_normal: int, cap: int) -> str:
    """Every alarmed cycle, strongest first, up to `cap` rows (and how many more there are).
    With `n_normal` held-out normal scores, a column says how many of them each lies above."""
    compared = n_normal > 0
    head = list(ALARM_COLUMNS)
    if compared:
        head.insert(4, "vs. held-out normal")
    cells = []
    for r in rows[:cap]:
        values = [
            esc(r.robot),
            f'<td class="num">{r.sample}</td>',
            esc(r.time),
            f'<td class="num">{esc(severity_text(r.severity))}</td>',
            esc(r.truth),
            "–" if math.isnan(r.event_time_s) else f"{r.event_time_s:.2f} s",
            esc(r.step),
            "–" if r.axis is None else str(r.axis),
            esc(r.signal),
        ]
        if compared:
            values.insert(4, esc(percentile_text(r.percentile, n_normal)))
        tds = "".join(v if v.startswith("<td") else f"<td>{v}</td>" for v in values)
        kind = ' class="false-alarm"' if r.truth == "normal (false alarm)" else ""
        cells.append(f'<tr{kind} data-robot="{esc(r.robot)}" data-sample="{r.sample}">{tds}</tr>')
    more = len(rows) - min(len(rows), cap)
    note = f'<p class="more">… and {more} more alarmed cycles not listed.</p>' if more else ""
    if not rows:
        body = '<p class="none">No cycle was over the threshold.</p>'
    else:
        thead = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = (
            f'<table class="alarmed"><thead><tr>{thead}</tr></thead>'
            f"<tbody>{''.join(cells)}</tbody></table>{note}"
        )
    intro = (
        f"{len(rows)} cycle(s) over the threshold, strongest first. Severity: the score as a ratio "
        "to the threshold (1× at it). Event: where in the cycle the model's input gradient peaks "
        "most over normal, the program step running then, and the axis and signal behind it."
    )
    return f'<section id="alarmed"><h2>Alarmed cycles</h2><p class="note">{esc(intro)}</p>{body}</section>'


def table_html(table: Table) -> str:
    console = Console(record=True, width=160, file=io.StringIO())
    console.print(table)
    return console.export_html(inline_styles=True, code_format='<pre class="table">{code}</pre>')


def page(title: str, sections: Sequence[str], entries: Sequence[tuple[str, str]]) -> str:
    figures = "\n".join(
        f'<figure><a href="{esc(src)}"><img src="{esc(src)}" alt="{esc(caption)}"></a>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
        for src, caption in entries
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style></head>\n"
        f"<body>\n<h1>{esc(title)}</h1>\n{''.join(sections)}\n"
        f'<section id="figures"><h2>Figures</h2>\n{figures}\n</section>\n</body>\n</html>\n'
    )
