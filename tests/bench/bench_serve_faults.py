"""serve under faults for longer than CI can afford; each prints its figures.

    python tests/bench/bench_serve_faults.py chaos --kills 20
    python tests/bench/bench_serve_faults.py fuzz --frames 100000 --images 2000
    python tests/bench/bench_serve_faults.py outage --seconds 600
    python tests/bench/bench_serve_faults.py soak --minutes 30

chaos: SIGKILLs at random moments while robots stream at real time; the verdicts must equal
a calm run's, field for field. fuzz: malformed frames and images against a running serve: it
must not crash, must dead-letter every one with a reason kind and keep committing. outage:
the broker frozen (SIGSTOP) while robots stream: no cycle cut short, nothing lost, /livez 200
throughout. soak: real-time streaming with a kill every few minutes; memory and commit lag
sampled over time must stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiokafka import AIOKafkaConsumer, TopicPartition

from robotwatch.bench.process import rss_mb
from tests.stream import chaos
from tests.stream.broker import Broker, ServeProcess, produce, read_all, unique
from tests.stream.conftest import SIGNALS
from tests.stream.test_serve_faults import _mutated
from tests.stream.test_serve_kafka import _garbage, _publish, _topics


class Bench:
    def __init__(self, folder: Path, cycles: int) -> None:
        from replay import VorausFile
        from replay.simulator import load_profile, write_dataset
        from robotwatch.mtsflow.fit import FitOptions, TrainingSettings, fit_model
        from robotwatch.mtsflow.model_file import save_model

        self.folder = folder
        self.cell = folder / "cell.parquet"
        write_dataset(self.cell, load_profile("default"), n_cycles=cycles, rate=100, seed=11)
        options = FitOptions(signals=tuple(SIGNALS), rate_hz=50, scale=1, n_blocks=2, kernel_size=5)
        save_model(
            fit_model(self.cell, options, TrainingSettings(epochs=1, batch_size=4)), folder / "model.rwmodel"
        )
        self.model = folder / "model.rwmodel"
        self.samples = [i.sample for i in VorausFile(self.cell).cycle_infos() if not i.is_train]
        self.broker = Broker(folder)
        self.started: list[ServeProcess] = []

    def serve(self, *args: object, **kwargs: object) -> ServeProcess:
        process = ServeProcess(*args, **kwargs)  # type: ignore[arg-type]
        self.started.append(process)
        return process

    def publish(
        self, cell: Path, broker: Broker, topic: str, robots: int, duration_s: float
    ) -> subprocess.Popen:
        speed = len(self.samples) * 11.5 / duration_s if duration_s else None
        return _publish(cell, broker, topic, robots, speed=speed)

    def close(self) -> None:
        for process in self.started:
            if process.proc.poll() is None:
                process.kill()
        self.broker.stop()


def bench_chaos(b: Bench, kills: int, robots: int) -> dict:
    expect = robots * len(b.samples)
    calm, _ = chaos.run(
        b.broker,
        b.cell,
        b.model,
        b.folder,
        b.serve,
        b.publish,
        robots=robots,
        kills=0,
        expect=expect,
        duration_s=0,
    )
    duration = max(60.0, 3.0 * kills)
    wild, differing = chaos.run(
        b.broker,
        b.cell,
        b.model,
        b.folder,
        b.serve,
        b.publish,
        robots=robots,
        kills=kills,
        expect=expect,
        duration_s=duration,
        seed=11,
    )
    report = chaos.compare(wild, calm)
    return {
        "kills": wild.kills,
        "robots": robots,
        "cycles": expect,
        "verdicts_calm": len(calm.verdicts),
        "verdicts_killed": len(wild.verdicts),
        "records_killed": wild.copies,
        "lost": len(report["lost"]),  # type: ignore[arg-type]
        "invented": len(report["invented"]),  # type: ignore[arg-type]
        "changed": len(report["changed"]),  # type: ignore[arg-type]
        "one_id_two_contents": len(differing),
        "seconds": round(wild.seconds, 1),
    }


def _vision_model(folder: Path) -> tuple[Path, list[bytes]]:
    """A tiny CS-Flow on a synthetic camera (as the camera test trains it) and its test images."""
    from typer.testing import CliRunner

    from robotwatch.cli.main import app

    data, model = folder / "camera", folder / "csflow.safetensors"
    runner = CliRunner()
    for args in (
        [
            "simulate",
            "--out",
            str(data),
            "--images",
            "16",
            "--size",
            "128",
            "--test-per-defect",
            "1",
            "--seed",
            "4",
        ],
        [
            "train",
            str(data),
            "--out",
            str(model),
            "--method",
            "csflow",
            "--epochs",
            "1",
            "--image-size",
            "128",
            "--device",
            "cpu",
            "--set",
            "hidden=32",
        ],
    ):
        result = runner.invoke(app, ["vision", *args])
        if result.exit_code:
            raise RuntimeError(result.output)
    return model, [p.read_bytes() for p in sorted(data.glob("test/*/*.png"))]


def bench_fuzz(b: Bench, frames: int, images: int) -> dict:
    from robotwatch.playback.file_stream import file_frames
    from robotwatch.stream.rejects import RejectKind
    from robotwatch.stream.signal_frame import SignalFrameError, decode_any, signal_list_id

    topics = {
        "signals": unique("signals"),
        "anomalies": unique("anomalies"),
        "dlq": unique("dlq"),
        "frames": unique("frames"),
    }
    asyncio.run(_create(b.broker, list(topics.values())))
    group = unique("group")
    extra: dict[str, object] = {}
    pictures: list[bytes] = []
    if images:
        vision_model, pictures = _vision_model(b.folder)
        extra = {"vision_model": str(vision_model), "frames_topic": topics["frames"]}
    serve = b.serve(b.folder, b.model, b.broker, topics, group, idle_close_s=2.0, **extra)
    serve.wait_assigned()
    valid = next(iter(file_frames(b.cell, SIGNALS, 1)))[1]
    rng = random.Random(5)
    known = {signal_list_id(SIGNALS): len(SIGNALS)}
    refused: list[bytes] = []
    candidates = _garbage(valid, frames // 2)
    while len(refused) < frames:
        value = candidates.pop() if candidates else _mutated(valid, rng)
        try:
            decode_any(value, known)
        except SignalFrameError as error:
            # A well-formed frame of another signal list is counted as mismatched, not dead
            if error.kind is not RejectKind.UNKNOWN_SIGNAL_LIST:
                refused.append(value)
    bad_images = [
        _mutated(rng.choice(pictures), rng) if i % 3 else rng.choice(pictures)[: rng.randint(0, 400)]
        for i in range(images)
    ]
    started = time.monotonic()
    asyncio.run(
        produce(
            b.broker.bootstrap, topics["signals"], [(b"fuzz-%d" % (i % 13), v) for i, v in enumerate(refused)]
        )
    )
    if bad_images:
        asyncio.run(produce(b.broker.bootstrap, topics["frames"], [(b"cell-1", v) for v in bad_images]))
    expected = len(refused) + len(bad_images)
    dead = asyncio.run(read_all(b.broker.bootstrap, topics["dlq"], expect=expected, idle_s=8, limit_s=3600))
    verdicts = asyncio.run(read_all(b.broker.bootstrap, topics["anomalies"], idle_s=3))
    seconds = time.monotonic() - started
    time.sleep(3)
    kinds: dict[str, int] = {}
    for r in dead:
        kind = dict(r.headers).get("reason_kind", b"?").decode()
        kinds[kind] = kinds.get(kind, 0) + 1
    health = serve.health() or {}
    alive = serve.proc.poll() is None
    committed = _committed_total(b.broker, group, topics["signals"], 2)
    serve.kill(signal.SIGTERM)
    return {
        "frames_sent": len(refused),
        "images_sent": len(bad_images),
        "dead_letters": len(dead),
        "image_verdicts": len(verdicts),  # mutated images that still decoded and fit the model
        "reason_kinds": kinds,
        "serve_alive": alive,
        "signal_offsets_committed": committed,
        "seconds": round(seconds, 1),
        "ready": health.get("ready"),
        "reasons": health.get("reasons"),
    }


async def _create(broker: Broker, names: list[str]) -> None:
    from robotwatch.bench.broker import create_topics

    await create_topics(broker.bootstrap, names, 2)


def _committed_total(broker: Broker, group: str, topic: str, partitions: int) -> int:
    async def ask() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            return sum([(await consumer.committed(TopicPartition(topic, p))) or 0 for p in range(partitions)])
        finally:
            await consumer.stop()

    return asyncio.run(ask())


def bench_outage(b: Bench, seconds: float, robots: int) -> dict:
    topics = _topics(b.broker)
    serve = b.serve(
        b.folder, b.model, b.broker, topics, unique("group"), idle_close_s=4.0, broker_timeout_s=5.0
    )
    serve.wait_assigned()
    from tests.stream.test_serve_faults import _publish_in_thread

    # A robot's gateway that keeps its frames until the broker is back (a send may wait the
    # whole outage); one that gave up after two minutes lost the cycles, not serve.
    publisher = _publish_in_thread(
        b.cell, b.broker, topics["signals"], robots, speed=len(b.samples) * 11.5 / 60, timeout_s=seconds + 120
    )
    livez, readyz = [], []
    time.sleep(8)
    b.broker.pause()
    frozen_at = time.monotonic()
    while time.monotonic() - frozen_at < seconds:
        time.sleep(5)
        livez.append(serve.probe("/livez"))
        readyz.append(serve.probe("/readyz"))
    b.broker.resume()
    publisher.join(seconds + 300)
    records = asyncio.run(
        read_all(b.broker.bootstrap, topics["anomalies"], expect=robots * len(b.samples), idle_s=6)
    )
    after = serve.probe("/readyz")
    serve.kill(signal.SIGTERM)
    verdicts = [json.loads(r.value) for r in records]
    last = {f"robot-{i + 1:03d}": str(b.samples[-1]) for i in range(robots)}
    cut = [v for v in verdicts if v["flags"]["incomplete"] and last.get(v["robot_id"]) != v["cycle_id"]]
    return {
        "outage_s": seconds,
        "cycles": robots * len(b.samples),
        "verdict_ids": len({v["verdict_id"] for v in verdicts}),
        "cut_short_by_the_outage": len(cut),
        "livez_200_during": sum(1 for a in livez if a and a[0] == 200),
        "probes_during": len(livez),
        "readyz_503_during": sum(1 for a in readyz if a and a[0] == 503),
        "ready_after": bool(after and after[0] == 200),
        "reasons_after": after[1].get("reasons") if after else None,
    }


def bench_soak(b: Bench, minutes: float, robots: int) -> dict:
    topics, group = _topics(b.broker), unique("group")
    options = dict(chaos.OPTIONS)
    serve = b.serve(b.folder, b.model, b.broker, topics, group, **options)
    serve.wait_assigned()
    duration = minutes * 60
    publisher = b.publish(b.cell, b.broker, topics["signals"], robots, duration)
    rng = random.Random(2)
    samples, kills = [], 0
    started = next_kill = time.monotonic()
    next_kill += rng.uniform(120, 240)
    while publisher.poll() is None and time.monotonic() - started < duration + 120:
        time.sleep(30)
        if time.monotonic() >= next_kill:
            serve.kill(signal.SIGKILL)
            kills += 1
            serve = b.serve(b.folder, b.model, b.broker, topics, group, **options)
            serve.wait_assigned()
            next_kill = time.monotonic() + rng.uniform(120, 240)
        doc = serve.health() or {}
        samples.append(
            (
                round(time.monotonic() - started),
                round(rss_mb(serve.proc.pid)),
                doc.get("consumer_lag"),
                doc.get("in_flight"),
                doc.get("ready"),
            )
        )
    records = asyncio.run(
        read_all(b.broker.bootstrap, topics["anomalies"], expect=robots * len(b.samples), idle_s=6)
    )
    serve.kill(signal.SIGTERM)
    publisher.kill()
    ids = {json.loads(r.value)["verdict_id"] for r in records}
    return {
        "minutes": minutes,
        "robots": robots,
        "kills": kills,
        "cycles": robots * len(b.samples),
        "verdict_ids": len(ids),
        "samples (s, rss MB, lag, in flight, ready)": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["chaos", "fuzz", "outage", "soak"])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--robots", type=int, default=5)
    parser.add_argument(
        "--cycles", type=int, default=24, help="simulated cycles (about 40 % are test cycles)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="robotwatch-faults-") as tmp:
        bench = Bench(Path(tmp), args.cycles)
        try:
            if args.what == "chaos":
                figures = bench_chaos(bench, args.kills, args.robots)
            elif args.what == "fuzz":
                figures = bench_fuzz(bench, args.frames, args.images)
            elif args.what == "outage":
                figures = bench_outage(bench, args.seconds, args.robots)
            else:
                figures = bench_soak(bench, args.minutes, args.robots)
        finally:
            bench.close()
    print(json.dumps({args.what: figures}, indent=1))


if __name__ == "__main__":
    main()
