"""How many robots streaming at 500 Hz (or 100 Hz) one `robotwatch serve` process keeps up with.

For a growing number of robots (a bounded list), a serve process consumes the frames that a
publisher process of its own sends at real time from a simulated file at that rate. A step
passes when the consumer lag stays bounded, every cycle gets its verdict and 99 % of them come
within a second of the cycle's end. Latency is cycle end (the publication of its last frame)
to verdict (the broker's timestamp of the verdict); each robot's last cycle, which closes on
the idle timeout by design, is left out. Beside it, serve's own cost: its CPU time (from
/proc) per robot-second streamed, and its resident memory above an idle serve per robot; and
what the machine's cores did meanwhile (serve, the broker where it is the bench's own, the
publisher, all processes), since on a small machine all three share the same cores.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer

from robotwatch.bench.broker import LocalBroker, create_topics, free_port
from robotwatch.bench.process import cpu_s, machine_cpu_s, rss_mb
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.clients import frame_producer

ROBOT_STEPS = (10, 25, 50, 75, 100, 150, 200)
LATENCY_P99_LIMIT_MS = 1000.0


@dataclass(frozen=True)
class ServeStep:
    robots: int
    cycles_expected: int
    cycles_scored: int
    max_lag: int
    end_lag: int
    publisher_late_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    service_latency_p50_ms: float  # cycle closed -> verdict made, inside serve
    service_latency_p99_ms: float
    flagged_fraction: float  # cycles over threshold
    kept_up: bool
    serve_cpu_ms_per_robot_s: float  # serve's CPU time per second of one robot's stream
    serve_rss_mb: float  # at the end of the stream
    rss_mb_per_robot: float  # above the same serve before the stream began
    # cores busy on average while the stream ran: serve, the local broker (None: a broker of
    # the user's), the publisher, and every process of the machine together (of `machine_cores`)
    serve_cores: float
    broker_cores: float | None
    publisher_cores: float
    machine_busy_cores: float
    machine_cores: int


@dataclass(frozen=True)
class ServeFigures:
    rate_hz: float
    max_robots: int  # the most robots at rate_hz that kept up
    latency_p50_ms: float
    latency_p99_ms: float
    localize: str
    steps: list[ServeStep]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class BenchMaterial:
    """What every step streams and scores: the bench's model and a stream of its cell."""

    model: Path
    stream: Path
    signals: list[str]
    n_cycles: int  # per robot
    workdir: Path


def _health(port: int) -> dict:
    """The readiness document (also when it says not ready, with status 503)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except (OSError, ValueError):
        return {}


def _publisher(args: tuple, results: multiprocessing.Queue) -> None:
    """The publisher's own process: its CPU is not serve's, nor this process's."""
    results.put(asyncio.run(_publish(*args)))


async def _publish(
    data: Path, signals: list[str], bootstrap: str, topic: str, robots: int, port: int
) -> tuple[dict[tuple[str, int], float], float, list[int], float]:
    """Real-time publication; returns each cycle's end (wall clock), the worst lateness, lag
    samples and the CPU seconds the publishing took."""
    cpu_before = time.process_time()
    producer = frame_producer({"bootstrap_servers": bootstrap})
    await producer.start()
    ends: dict[tuple[str, int], float] = {}
    lags: list[int] = []
    late = 0.0
    started = time.time()
    next_probe = started + 1.0
    try:
        for chunk, frame in file_frames(data, signals, robots, part="all"):
            delay = started + chunk.due_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(late, -delay)
            await producer.send(topic, value=frame, key=chunk.robot.encode())
            ends[(chunk.robot, chunk.cycle)] = started + chunk.due_s
            if time.time() > next_probe:
                lags.append(int((await asyncio.to_thread(_health, port)).get("consumer_lag", 0)))
                next_probe += 1.0
        await producer.flush()
    finally:
        await producer.stop()
    return ends, late, lags, time.process_time() - cpu_before


async def _verdicts(bootstrap: str, topic: str, expected: int, limit_s: float) -> list:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + limit_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return records


def serve_step(
    material: BenchMaterial, robots: int, localize: str = "flagged", bootstrap: str | None = None
) -> ServeStep:
    """One step: `robots` robots streaming `material` to a fresh serve process. Without
    `bootstrap`, on a broker of its own, started for this step: the bench's broker keeps every
    message in memory, and a broker grown by the steps before slows the next one (a ladder
    whose steps shared one broker ran its later steps behind a broker of several GB)."""
    if bootstrap is not None:
        return _step(material, robots, localize, bootstrap, None)
    broker = LocalBroker()
    try:
        return _step(material, robots, localize, broker.bootstrap, broker.proc.pid)
    finally:
        broker.stop()


def _step(
    material: BenchMaterial, robots: int, localize: str, bootstrap: str, broker_pid: int | None
) -> ServeStep:
    names = {k: f"{k}-{uuid.uuid4().hex[:6]}" for k in ("signals", "anomalies", "dlq")}
    asyncio.run(create_topics(bootstrap, list(names.values()), partitions=4))
    port = free_port()
    config = material.workdir / f"serve-{robots}.toml"
    config.write_text(
        f'signals_topic = "{names["signals"]}"\nanomalies_topic = "{names["anomalies"]}"\n'
        f'dead_letter_topic = "{names["dlq"]}"\ngroup = "bench-{robots}"\nhttp_port = {port}\n'
        f'idle_close_s = 2.0\ndevice = "auto"\nlocalize = "{localize}"\n'
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\n'
    )
    serve = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "robotwatch"),
            "serve",
            "--model",
            str(material.model),
            "--config",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # joined its group, and its scoring processes are up: their start-up is no cycle's cost
        while not (doc := _health(port)).get("assigned_partitions") or doc["checks"]["scoring_processes"]:
            if time.monotonic() > deadline or serve.poll() is not None:
                raise RuntimeError("serve did not join its group, or its scoring processes did not start")
            time.sleep(0.3)
        idle_rss, cpu_before, began = rss_mb(serve.pid), cpu_s(serve.pid), time.monotonic()
        broker_before = cpu_s(broker_pid) if broker_pid else 0.0
        machine_before = machine_cpu_s()
        results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        publisher = multiprocessing.get_context("spawn").Process(
            target=_publisher,
            args=((material.stream, material.signals, bootstrap, names["signals"], robots, port), results),
        )
        publisher.start()
        ends, late, lags, publisher_cpu_s = results.get()
        publisher.join()
        streamed_s = time.monotonic() - began
        machine_busy_s = machine_cpu_s() - machine_before
        broker_cpu_s = cpu_s(broker_pid) - broker_before if broker_pid else None
        serve_cpu_s = cpu_s(serve.pid) - cpu_before
        expected = robots * material.n_cycles
        records = asyncio.run(_verdicts(bootstrap, names["anomalies"], expected, limit_s=20))
        end_lag = int(_health(port).get("consumer_lag", 0))
        rss = rss_mb(serve.pid)
    finally:
        serve.terminate()
        serve.wait(60)
    last = {robot: max(c for r, c in ends if r == robot) for robot, _ in ends}
    verdicts = [(json.loads(r.value), r.timestamp / 1000) for r in records]
    latencies, service = [], []
    for v, published in verdicts:
        cycle = int(v["cycle_id"])
        if cycle != last[v["robot_id"]]:
            latencies.append(published - ends[(v["robot_id"], cycle)])
            service.append(v["processing_latency_ms"] / 1000)
    lat_ms, service_ms = (1000 * np.array(x or [np.nan]) for x in (latencies, service))
    p50, p99, service_p50, service_p99 = (
        float(np.nanpercentile(x, q)) for x in (lat_ms, service_ms) for q in (50, 99)
    )
    flagged = float(np.mean([v["anomalous"] for v, _ in verdicts])) if verdicts else float("nan")
    scored = len({(v["robot_id"], v["cycle_id"]) for v, _ in verdicts})
    # Keeping up: every cycle scored, no backlog left in Kafka or inside serve, and the publisher
    # itself on schedule. A queue of cycles inside serve shows only as late verdicts, so the
    # product's promise (a verdict within a second of the cycle's end, p99) is part of it.
    kept_up = scored == expected and end_lag < robots * 2 and late < 1.0 and p99 <= LATENCY_P99_LIMIT_MS
    return ServeStep(
        robots,
        expected,
        scored,
        max(lags or [0]),
        end_lag,
        round(late, 3),
        p50,
        p99,
        service_p50,
        service_p99,
        round(flagged, 3),
        kept_up,
        round(1000 * serve_cpu_s / (robots * streamed_s), 2),
        round(rss, 1),
        round((rss - idle_rss) / robots, 2),
        round(serve_cpu_s / streamed_s, 2),
        None if broker_cpu_s is None else round(broker_cpu_s / streamed_s, 2),
        round(publisher_cpu_s / streamed_s, 2),
        round(machine_busy_s / streamed_s, 2),
        os.cpu_count() or 1,  # the cores /proc/stat counts
    )


def bench_material(workdir: Path, n_cycles: int = 3, rate_hz: float = 500.0) -> BenchMaterial:
    """A 100 Hz model (T ~ 1150) as in the MTS-Flow issue, and normal cycles of the same cell
    at `rate_hz` to stream: what serve does while anomalies are rare (flagged_fraction says
    how many the model still flagged, each of them localized). Enough normal training cycles
    that the threshold means something (a model with two calibration cycles flags half of
    all cycles, and the bench would measure localization)."""
    from replay.schema import SIGNALS
    from replay.simulator import load_profile, write_dataset
    from robotwatch.mtsflow.fit import FitOptions, TrainingSettings, fit_model
    from robotwatch.mtsflow.model_file import save_model

    train, stream, model = workdir / "train.parquet", workdir / "stream.parquet", workdir / "model.rwmodel"
    write_dataset(train, load_profile("default"), n_cycles=120, rate=100, seed=5)
    save_model(
        fit_model(train, FitOptions(signals=SIGNALS, rate_hz=100), TrainingSettings(epochs=4, batch_size=8)),
        model,
    )
    write_dataset(
        stream, load_profile("default"), n_cycles=n_cycles, rate=int(rate_hz), seed=6, categories=()
    )
    return BenchMaterial(model, stream, list(SIGNALS), n_cycles, workdir)


def bench_serve(
    bootstrap: str | None = None,
    steps: tuple[int, ...] = ROBOT_STEPS,
    n_cycles: int = 3,
    localize: str = "flagged",
    on_step=None,
    rate_hz: float = 500.0,
) -> ServeFigures:
    """Raise the number of robots streaming at `rate_hz` along `steps` until serve falls behind.

    `localize` as in serve's settings; its default localizes only cycles over threshold, so
    the figures hold while anomalies are rare (flagged_fraction says how rare they were)."""
    results: list[ServeStep] = []
    with tempfile.TemporaryDirectory(prefix="robotwatch-bench-") as tmp:
        material = bench_material(Path(tmp), n_cycles, rate_hz)
        for robots in steps:
            step = serve_step(material, robots, localize, bootstrap)
            results.append(step)
            if on_step is not None:
                on_step(step)
            if not step.kept_up:
                break
    passed = [s for s in results if s.kept_up]
    best = passed[-1] if passed else None
    return ServeFigures(
        rate_hz,
        best.robots if best else 0,
        best.latency_p50_ms if best else float("nan"),
        best.latency_p99_ms if best else float("nan"),
        localize,
        results,
    )
