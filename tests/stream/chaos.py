"""Chaos against a real broker, for the test (a few kills) and tests/bench/bench_chaos.py (20 or
more): serve is SIGKILLed at random moments while a publisher streams robots at real time;
the verdicts must be those of a run without kills, field for field."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.stream.broker import Broker, ServeProcess, read_all, still_running, unique

# Verdict fields that may differ between two runs over the same data (docs/architecture.md §5).
VOLATILE = ("produced_at", "processing_latency_ms")
OPTIONS = {"idle_close_s": 4.0, "session_timeout_s": 6.0, "commit_interval_s": 0.5, "scoring_process": True}


@dataclass
class ChaosRun:
    verdicts: dict[str, dict]  # verdict id -> content without the volatile fields
    copies: int  # verdict records on the topic, repeats included
    kills: int
    seconds: float
    orphans: list[int]  # processes a killed serve had started, still running after it


def content(record_value: bytes) -> dict:
    doc = json.loads(record_value)
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def _collect(
    broker: Broker, topic: str, expect: int, limit_s: float
) -> tuple[dict[str, dict], int, list[str]]:
    """Every verdict by id; the ids seen with more than one content."""
    records = asyncio.run(read_all(broker.bootstrap, topic, expect=expect, idle_s=4, limit_s=limit_s))
    verdicts: dict[str, dict] = {}
    differing = []
    for r in records:
        doc = content(r.value)
        if verdicts.setdefault(doc["verdict_id"], doc) != doc:
            differing.append(doc["verdict_id"])
    return verdicts, len(records), differing


def run(
    broker: Broker,
    cell: Path,
    model: Path,
    folder: Path,
    start_serve: Callable[..., ServeProcess],
    publish: Callable[..., object],
    *,
    robots: int,
    kills: int,
    expect: int,
    duration_s: float,
    seed: int = 7,
) -> tuple[ChaosRun, list[str]]:
    """One serve group over fresh topics; `kills` SIGKILLs spread over the publication. Returns
    the run and the verdict ids that came out with different contents."""
    from tests.stream.test_serve_kafka import _topics

    topics, group = _topics(broker), unique("group")
    rng = random.Random(seed)
    started = time.monotonic()
    serve = start_serve(folder, model, broker, topics, group, **OPTIONS)
    serve.wait_assigned()
    publisher = publish(cell, broker, topics["signals"], robots, duration_s)
    done = 0
    children: list[int] = []
    try:
        while done < kills:
            time.sleep(rng.uniform(0.3, 2.0 * duration_s / max(kills, 1)))
            children += serve.children()
            assert serve.kill(signal.SIGKILL) == -signal.SIGKILL
            done += 1
            serve = start_serve(folder, model, broker, topics, group, **OPTIONS)
            serve.wait_assigned()
        publisher.wait(max(60.0, 3 * duration_s))  # type: ignore[attr-defined]
        verdicts, copies, differing = _collect(broker, topics["anomalies"], expect, limit_s=120 + duration_s)
    finally:
        serve.kill(signal.SIGTERM)
        publisher.kill()  # type: ignore[attr-defined]
    orphans = still_running(children)
    return ChaosRun(verdicts, copies, done, time.monotonic() - started, orphans), differing


def compare(chaos: ChaosRun, calm: ChaosRun) -> dict[str, object]:
    """What the chaos run got wrong against the calm one: lost, invented and changed verdicts."""
    lost = sorted(set(calm.verdicts) - set(chaos.verdicts))
    invented = sorted(set(chaos.verdicts) - set(calm.verdicts))
    changed = sorted(
        i for i in set(calm.verdicts) & set(chaos.verdicts) if calm.verdicts[i] != chaos.verdicts[i]
    )
    return {"lost": lost, "invented": invented, "changed": changed}
