"""The report as a person sees it: rendered by a real browser (headless Chromium).

The DOM after loading says what the page shows (the alarmed table's rows, the rates, every
figure decoded), and a screenshot says it is drawn: ink in many bands, the alarmed table's
rules where the DOM puts the table, colour where the figures are.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from replay import VorausFile
from replay.schema import Category
from robotwatch.cli.main import app
from robotwatch.evaluation.report import AlarmSource, write_report
from tests.evaluation.test_report import results, view

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium for the browser check (make system-packages installs it)"
)
WIDTH, HEIGHT = 1280, 4000

# Run in the page after load: what a reader would see, written into the DOM for --dump-dom.
PROBE = """<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left, right: r.right}; };
  const table = document.querySelector("table.alarmed");
  const found = {
    rows: [...document.querySelectorAll("table.alarmed tbody tr")].map(
      (tr) => [...tr.cells].map((td) => td.textContent)),
    rates: [...document.querySelectorAll("p.rate")].map((p) => p.textContent),
    images: [...document.images].map((img) => ({src: img.getAttribute("src"),
      width: img.naturalWidth, complete: img.complete, box: box(img)})),
    table: table ? box(table) : null,
    headings: [...document.querySelectorAll("h2")].map((h) => h.textContent),
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile: Path) -> str:
    done = subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def seen(index: Path, profile: Path) -> dict:
    """The page's DOM after Chromium loaded it and its images, as PROBE reports it."""
    probe = index.with_name("probe.html")
    probe.write_text(index.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), "utf-8")
    # the screenshot's window, so that the boxes it reports are where the screenshot has them
    dom = chromium(
        f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri(),
        profile=profile,
    )  # fmt: skip
    probe.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the page's script did not run"
    return json.loads(html.unescape(found.group(1)))


def screenshot(index: Path, profile: Path) -> np.ndarray:
    """The top WIDTH x HEIGHT pixels of the page as grey levels 0..255 and the RGB image."""
    shot = index.with_name("screenshot.png")
    chromium(f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", index.as_uri(), profile=profile)
    return imread(shot)[..., :3] * 255


def bands(ink: np.ndarray, gap: int = 3) -> int:
    """Runs of rows with ink, separated by at least `gap` blank rows."""
    rows = np.flatnonzero(ink)
    return 0 if len(rows) == 0 else 1 + int((np.diff(rows) > gap).sum())


def assert_drawn(pixels: np.ndarray, dom: dict, n_rows: int) -> None:
    grey = pixels.mean(2)
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert bands((grey < 200).sum(1) > 3) >= 12, "the page is (nearly) blank"
    table = dom["table"]
    top, bottom = int(table["top"]), min(int(table["bottom"]), HEIGHT)
    left, right = int(table["left"]), int(table["right"])
    assert bottom - top > 20 * min(n_rows, 5)
    # the table's rules: rows where most of its width is border grey, one between each pair of rows
    region = grey[top : bottom + 1, left:right]
    rules = bands(((region < 225) & (region > 120)).mean(1) > 0.8, gap=1)
    # above and below the header and below each row; a table longer than the shot: its top rows
    assert rules >= (n_rows + 2 if table["bottom"] < HEIGHT else 10)
    # the first figure is drawn in colour (matplotlib's blue and red), not an empty frame
    first = next(i["box"] for i in dom["images"] if i["box"]["top"] < HEIGHT - 300)
    figure = pixels[
        int(first["top"]) : min(int(first["bottom"]), HEIGHT), int(first["left"]) : int(first["right"])
    ]
    colourful = (figure.max(2) - figure.min(2)) > 60
    assert colourful.mean() > 0.01


def test_a_report_renders_in_chromium_with_every_alarm_and_figure(tmp_path: Path) -> None:
    offline = results(3.0, 0)
    index = write_report(
        tmp_path / "report",
        {"MTS-Flow": offline},
        thresholds={"MTS-Flow": 1.5},
        cycles=[view(40, (1.2, 1.4), actions=True), view(41, None, True, score=30.0)],
        alarms=AlarmSource(offline, 1.5, "MTS-Flow", "cell.parquet", normal_scores=[0.0, 1.0, 2.0]),
    )
    dom = seen(index, tmp_path / "profile")
    over = offline[offline["score"] > 1.5].sort_values("score", ascending=False)
    assert [int(r[1]) for r in dom["rows"]] == over["sample"].tolist()
    assert all(r[0] == "cell.parquet" and r[3].endswith("×") for r in dom["rows"])
    normal = offline[~offline["anomaly"]]
    n_false = int((normal["score"] > 1.5).sum())
    assert dom["rates"][0].startswith(f"{n_false} of {len(normal)} normal test cycles alarmed")
    assert dom["headings"][:2] == ["At the threshold", "Alarmed cycles"]
    assert len(dom["images"]) == 4 and all(i["complete"] and i["width"] > 0 for i in dom["images"])
    assert_drawn(screenshot(index, tmp_path / "profile"), dom, len(dom["rows"]))


@pytest.mark.slow
def test_a_replay_report_lists_the_alerts_the_replay_printed(
    tiny_model: Path, small_cell: Path, tmp_path: Path
) -> None:
    """`replay --json --report`: the report's alarmed table is the replay's alerts, robot by
    robot with their time, and its rates count the file's labelled test cycles."""
    report = tmp_path / "report"
    run = CliRunner().invoke(
        app,
        ["replay", str(small_cell), "--model", str(tiny_model), "--json", "--report", str(report),
         "--device", "cpu", "--no-dashboard"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.splitlines()[0])
    dom = seen(report / "index.html", tmp_path / "profile")
    alerts = [(a["robot_id"], a["cycle_id"]) for a in summary["alerts"]]
    assert [(r[0], r[1]) for r in dom["rows"]] == alerts
    assert all(re.fullmatch(r"\+\d+:\d\d:\d\d", r[2]) for r in dom["rows"])  # the replay's clock
    labels = [i for i in VorausFile(small_cell, signals=()).cycle_infos() if not i.is_train]
    n_normal = sum(i.category == Category.NORMAL_OPERATION for i in labels)
    n_false = sum(a["labelled"] == "NORMAL_OPERATION" for a in summary["alerts"])
    assert dom["rates"][0].startswith(f"{n_false} of {n_normal} normal test cycles alarmed")
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert sorted(i["src"] for i in dom["images"]) == pngs
    assert all(i["complete"] and i["width"] > 0 for i in dom["images"])
    assert_drawn(screenshot(report / "index.html", tmp_path / "profile"), dom, len(dom["rows"]))
