"""How many robots streaming at 500 Hz one `robotwatch serve` process keeps up with.

For a growing number of robots (a bounded list), a serve process consumes the frames that
this process publishes at real time from a 500 Hz simulated file. A step passes when the
consumer lag stays bounded and every cycle gets its verdict within a few seconds of the
end of the stream. Latency is cycle end (the publication of its last frame) to verdict
(the broker's timestamp of the verdict); each robot's last cycle, which closes on the
idle timeout by design, is left out.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from robotwatch.bench.broker import LocalBroker, free_port
from robotwatch.stream.embedded import file_frames

ROBOT_STEPS = (10, 25, 50, 75, 100, 150, 200)


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
    kept_up: bool


@dataclass(frozen=True)
class ServeFigures:
    max_robots_500hz: int
    latency_p50_ms: float
    latency_p99_ms: float
    steps: list[ServeStep]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return json.loads(response.read())
    except Exception:
        return {}


async def _create(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def _publish(data: Path, signals: list[str], bootstrap: str, topic: str, robots: int, port: int
                   ) -> tuple[dict[tuple[str, int], float], float, list[int]]:
    """Real-time publication; returns each cycle's end (wall clock), the worst lateness and lag samples."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=5,
                                max_request_size=16 << 20)
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
                lags.append(int(_health(port).get("consumer_lag", 0)))
                next_probe += 1.0
        await producer.flush()
    finally:
        await producer.stop()
    return ends, late, lags


async def _verdicts(bootstrap: str, topic: str, expected: int, limit_s: float) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
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


def _step(model: Path, data: Path, signals: list[str], bootstrap: str, robots: int, n_cycles: int,
          workdir: Path) -> ServeStep:
    names = {k: f"{k}-{uuid.uuid4().hex[:6]}" for k in ("signals", "anomalies", "dlq")}
    asyncio.run(_create(bootstrap, list(names.values()), partitions=4))
    port = free_port()
    config = workdir / f"serve-{robots}.toml"
    config.write_text(f'signals_topic = "{names["signals"]}"\nanomalies_topic = "{names["anomalies"]}"\n'
                      f'dead_letter_topic = "{names["dlq"]}"\ngroup = "bench-{robots}"\nhttp_port = {port}\n'
                      f'idle_close_s = 2.0\ndevice = "auto"\n[kafka]\nbootstrap_servers = "{bootstrap}"\n')
    serve = subprocess.Popen([str(Path(sys.executable).parent / "robotwatch"), "serve", "--model", str(model),
                              "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _health(port).get("assigned_partitions"):
            if time.monotonic() > deadline or serve.poll() is not None:
                raise RuntimeError("serve did not join its group")
            time.sleep(0.3)
        ends, late, lags = asyncio.run(_publish(data, signals, bootstrap, names["signals"], robots, port))
        expected = robots * n_cycles
        records = asyncio.run(_verdicts(bootstrap, names["anomalies"], expected, limit_s=20))
        end_lag = int(_health(port).get("consumer_lag", 0))
    finally:
        serve.terminate()
        serve.wait(60)
    last = {robot: max(c for r, c in ends if r == robot) for robot, _ in ends}
    latencies = []
    for record in records:
        v = json.loads(record.value)
        cycle = int(v["cycle_id"])
        if cycle != last[v["robot_id"]]:
            latencies.append(record.timestamp / 1000 - ends[(v["robot_id"], cycle)])
    lat_ms = 1000 * np.array(latencies or [np.nan])
    scored = len({(json.loads(r.value)["robot_id"], json.loads(r.value)["cycle_id"]) for r in records})
    # Keeping up: every cycle scored, no backlog left, and the publisher itself on schedule.
    kept_up = scored == expected and end_lag < robots * 2 and late < 1.0
    return ServeStep(robots, expected, scored, max(lags or [0]), end_lag, round(late, 3),
                     float(np.nanpercentile(lat_ms, 50)), float(np.nanpercentile(lat_ms, 99)), kept_up)


def bench_serve(bootstrap: str | None = None, steps: tuple[int, ...] = ROBOT_STEPS, n_cycles: int = 3,
                on_step=None) -> ServeFigures:
    """Raise the number of robots along `steps` until serve falls behind."""
    from replay.schema import SIGNALS
    from replay.simulator import load_profile, write_dataset
    from robotwatch.artifact import save_model
    from robotwatch.fitting import FitOptions, fit_model
    from robotwatch.training import TrainingSettings

    broker = LocalBroker() if bootstrap is None else None
    bootstrap = bootstrap or broker.bootstrap  # type: ignore[union-attr]
    results: list[ServeStep] = []
    try:
        with tempfile.TemporaryDirectory(prefix="robotwatch-bench-") as tmp:
            workdir = Path(tmp)
            train, data = workdir / "train.parquet", workdir / "stream.parquet"
            # A 100 Hz model (T ~ 1150) as in the MTS-Flow issue, fed by 500 Hz frames.
            write_dataset(train, load_profile("default"), n_cycles=12, rate=100, seed=5)
            model = fit_model(train, FitOptions(signals=SIGNALS, rate_hz=100), TrainingSettings(epochs=1, batch_size=4))
            save_model(model, workdir / "model.rwmodel")
            write_dataset(data, load_profile("default"), n_cycles=n_cycles, rate=500, seed=6)
            for robots in steps:
                step = _step(workdir / "model.rwmodel", data, list(SIGNALS), bootstrap, robots, n_cycles, workdir)
                results.append(step)
                if on_step is not None:
                    on_step(step)
                if not step.kept_up:
                    break
    finally:
        if broker is not None:
            broker.stop()
    passed = [s for s in results if s.kept_up]
    best = passed[-1] if passed else None
    return ServeFigures(best.robots if best else 0, best.latency_p50_ms if best else float("nan"),
                        best.latency_p99_ms if best else float("nan"), results)
