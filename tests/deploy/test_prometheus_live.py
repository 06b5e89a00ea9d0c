"""A real Prometheus scrapes a real `robotwatch serve` (against a real broker, with frames
streamed through it and a few bad messages among them) and runs deploy/'s rules, and every
expression of the rules, the Grafana dashboard and the autoscaler's adapter rule returns
data: a name serve does not export, a label it does not set or a join that matches nothing
fails here. Alert thresholds are not crossed on a healthy run, so each comparison is run
with `bool` (tests/deploy/promql.py); promtool's unit tests show the alerts fire."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from robotwatch.bench.broker import create_topics, free_port
from robotwatch.playback.publisher import publish_file
from robotwatch.stream.rejects import RejectKind
from tests.deploy import promql
from tests.deploy.tools import DEPLOY, tool
from tests.stream.broker import Broker, ServeProcess, produce, unique
from tests.stream.conftest import SIGNALS

pytestmark = pytest.mark.kafka

SCRAPE_S = 1.0
ROBOTS = 2
NAMESPACE = "robotwatch"


class Prometheus:
    """/usr/bin/prometheus on a loopback port with the compose stack's configuration, its
    targets and rule path pointed at this test's serve; stopped by its pid."""

    def __init__(self, tmp_path: Path, target: str) -> None:
        config = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": f"{SCRAPE_S:g}s", "evaluation_interval": f"{SCRAPE_S:g}s"}
        config["rule_files"] = [str(promql.RULES)]
        (job,) = config["scrape_configs"]
        assert job["job_name"] == promql.JOB
        # The namespace label stands for the one Kubernetes service discovery adds: the
        # autoscaler's adapter rule selects on it.
        job["static_configs"] = [{"targets": [target], "labels": {"namespace": NAMESPACE}}]
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (tmp_path / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            return json.loads(response.read())

    def query(self, expr: str) -> list[dict]:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def wait_until(self, what: str, check: Callable[[], bool], limit_s: float = 30) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"Prometheus: {what} not within {limit_s} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def scraped_serve(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    start_serve: Callable[..., ServeProcess],
    tmp_path: Path,
) -> Iterator[tuple[Prometheus, str, str]]:
    """serve with frames of two robots and a few dead letters behind it, scraped every second
    by Prometheus, which has evaluated its rules since; yields (Prometheus, the signals topic,
    serve's /metrics text)."""
    cell, model, samples = stream_cell
    topics = {"signals": unique("signals"), "anomalies": unique("anomalies"), "dlq": unique("dlq")}
    asyncio.run(create_topics(broker.bootstrap, list(topics.values()), 2))
    serve = start_serve(tmp_path, model, broker, topics, unique("group"), idle_close_s=2.0)
    prometheus = Prometheus(tmp_path, f"127.0.0.1:{serve.http_port}")
    try:
        serve.wait_assigned()
        up = f'up{{job="{promql.JOB}"}} == 1'
        prometheus.wait_until("serve's target up", lambda: bool(prometheus.query(up)))
        client = {"bootstrap_servers": broker.bootstrap}
        asyncio.run(publish_file(cell, SIGNALS, topics["signals"], client, robots=ROBOTS, speed=None))
        # Bad messages in two bursts a few scrapes apart, so the dead-letter counter is seen
        # to rise (a series' first value is no increase to rate()).
        for burst in range(2):
            junk = [(b"robot-001", b"not a frame")] * (3 + burst)
            asyncio.run(produce(broker.bootstrap, topics["signals"], junk))
            time.sleep(3 * SCRAPE_S)
        expected = ROBOTS * len(samples)
        deadline = time.monotonic() + 60
        # Polling /readyz as a Kubernetes readiness probe would: serve refreshes robotwatch_ready,
        # robotwatch_muted_robots and robotwatch_commit_stalled_partitions only when asked.
        while (serve.health() or {}).get("cycles", 0) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        assert serve.health()["cycles"] == expected, serve.health()  # type: ignore[index]
        time.sleep(4 * SCRAPE_S)  # scraped, and the rules evaluated, after the last verdict
        serve.health()
        time.sleep(2 * SCRAPE_S)
        with urllib.request.urlopen(f"http://127.0.0.1:{serve.http_port}/metrics", timeout=5) as response:
            exported = response.read().decode()
        yield prometheus, topics["signals"], exported
    finally:
        prometheus.stop()


def _returns_data(prometheus: Prometheus, expression: promql.Expression) -> str | None:
    """None when the expression (each comparison with `bool`) returns at least one finite
    sample; else what is wrong."""
    try:
        prometheus.query(expression.expr)  # as written: must at least evaluate
        result = prometheus.query(promql.keep_every_series(expression.expr))
    except (AssertionError, OSError) as exc:
        return f"{expression.where}: {exc}"
    values = [float(sample["value"][1]) for sample in result]
    if not any(math.isfinite(v) for v in values):
        return f"{expression.where}: no data ({values}) from {expression.expr!r}"
    return None


def test_every_rule_dashboard_and_adapter_expression_returns_data(
    scraped_serve: tuple[Prometheus, str, str],
) -> None:
    prometheus, signals_topic, exported = scraped_serve
    rules = promql.rule_expressions()
    panels = promql.dashboard_expressions(rate_interval="1m", time_range="5m")
    adapter = promql.adapter_expressions(NAMESPACE, signals_topic)
    assert (len(rules), len(panels), len(adapter)) == (16, 23, 1)
    expressions = [*rules, *panels, *adapter]

    # Every metric named is one serve exports (or a recorded one, or Prometheus' own `up`).
    samples = [line for line in exported.splitlines() if line and not line.startswith("#")]
    exported_names = {line.split("{")[0].split(" ")[0] for line in samples}
    known = exported_names | promql.recorded_names() | {"up"}
    unknown = {n for e in expressions for n in promql.metric_names(e.expr)} - known
    assert not unknown, f"names serve does not export: {sorted(unknown)}"

    failures = []
    for expression in expressions:
        problem = _returns_data(prometheus, expression)
        if problem:
            failures.append(problem)
    assert not failures, "\n".join(failures)

    # Every rule evaluated without error in Prometheus itself (a many-to-many join, say).
    groups = prometheus.get("/api/v1/rules")["data"]["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    assert len(loaded) == len(rules)
    assert all(r["health"] == "ok" for r in loaded), [(r["name"], r.get("lastError")) for r in loaded]
    # A healthy run: serve ready, no alert firing but the dead letters it was sent.
    firing = {a["labels"]["alertname"] for a in prometheus.get("/api/v1/alerts")["data"]["alerts"]}
    assert firing <= {"RobotwatchDeadLetters", "RobotwatchDeadLetterShareHigh"}, firing
    assert prometheus.query("robotwatch_ready")[0]["value"][1] == "1"
    reasons = {s["metric"]["reason"] for s in prometheus.query("robotwatch_dead_letters_total")}
    assert len(reasons) == 1 and reasons <= {kind.value for kind in RejectKind}, reasons
    # The dashboard's job variable lists the job its queries select.
    jobs = prometheus.get("/api/v1/label/job/values", **{"match[]": "robotwatch_frames_total"})["data"]
    assert jobs == [promql.JOB]
