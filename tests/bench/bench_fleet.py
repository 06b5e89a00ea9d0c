"""Figures of the fleet path (issue 11), on a local broker:

    python tests/bench/bench_fleet.py record --robots 20 --seconds 60
    python tests/bench/bench_fleet.py swap --robots 20 --swaps 5
    python tests/bench/bench_fleet.py memory --robots 200 --models 5

record: R robots' 500 Hz frames (all 130 signals) are on the topic; `robotwatch record` reads
them from the beginning as fast as it can. Prints steps/s, i.e. how many robots at 500 Hz one
recorder keeps up with, and its peak memory.
swap: serve scores R robots streaming at 500 Hz in real time; a retrained model is renamed
over the old one N times. Prints each swap's time (rename -> /models shows the new id) and
checks every cycle got exactly one verdict.
memory: serve with [models] mapping R robots to M models (globs); every robot sends two
cycles. Prints serve's resident memory with 1 robot, then with R, and per robot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from replay import VorausFile
from replay.schema import SIGNAL_GROUPS
from robotwatch.bench.broker import LocalBroker, create_topics, free_port
from robotwatch.mtsflow.fit import FitOptions, TrainingSettings, fit_model
from robotwatch.mtsflow.model_file import save_model
from robotwatch.playback.file_stream import file_frames
from robotwatch.stream.clients import frame_producer

ROBOTWATCH = str(Path(sys.executable).parent / "robotwatch")
SIGNALS = list(SIGNAL_GROUPS["machine"])


def cell(folder: Path, n_cycles: int, rate: int = 500) -> Path:
    from replay.simulator import load_profile, write_dataset

    path = folder / f"cell-{rate}hz-{n_cycles}.parquet"
    if not path.exists():
        write_dataset(path, load_profile("default"), n_cycles=n_cycles, rate=rate, seed=1)
    return path


def tiny_model(data: Path, out: Path, seed: int) -> str:
    options = FitOptions(signals=tuple(SIGNALS), rate_hz=100, n_blocks=2, scale=1, kernel_size=5)
    model = fit_model(data, options, TrainingSettings(epochs=1, batch_size=8, seed=seed))
    return save_model(model, out)


async def publish(data: Path, bootstrap: str, topic: str, robots: int, real_time: bool) -> int:
    producer = frame_producer({"bootstrap_servers": bootstrap})
    await producer.start()
    started, sent = time.monotonic(), 0
    try:
        for chunk, frame in file_frames(data, SIGNALS, robots, part="all"):
            if real_time and (delay := started + chunk.due_s - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            await producer.send(topic, value=frame, key=chunk.robot.encode())
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def topics(bootstrap: str, partitions: int = 4) -> dict[str, str]:
    names = {k: f"{k}-{uuid.uuid4().hex[:6]}" for k in ("signals", "anomalies", "dlq")}
    asyncio.run(create_topics(bootstrap, list(names.values()), partitions))
    return names


def start_serve(
    folder: Path, bootstrap: str, names: dict[str, str], extra: str
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = folder / f"serve-{port}.toml"
    config.write_text(
        f'signals_topic = "{names["signals"]}"\nanomalies_topic = "{names["anomalies"]}"\n'
        f'dead_letter_topic = "{names["dlq"]}"\ngroup = "bench-{port}"\nhttp_port = {port}\n'
        f'idle_close_s = 2.0\ndevice = "cpu"\nlocalize = "flagged"\n{extra}'
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\n'
    )
    serve = subprocess.Popen(
        [ROBOTWATCH, "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(folder / f"serve-{port}.log").open("wb"),
    )
    deadline = time.monotonic() + 90
    while not get(port, "/readyz").get("assigned_partitions"):
        if time.monotonic() > deadline or serve.poll() is not None:
            raise RuntimeError(f"serve did not start; see {folder}/serve-{port}.log")
        time.sleep(0.3)
    return serve, port


def get(port: int, path: str) -> dict | list:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except OSError:
        return {}


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and at its peak, MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def verdicts(bootstrap: str, topic: str, idle_s: float = 6.0) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"v-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out, last = [], time.monotonic()
    try:
        while time.monotonic() - last < idle_s:
            batch = await consumer.getmany(timeout_ms=500)
            fresh = [json.loads(r.value) for rs in batch.values() for r in rs]
            out += fresh
            last = time.monotonic() if fresh else last
    finally:
        await consumer.stop()
    return out


def bench_record(folder: Path, broker: LocalBroker, robots: int, seconds: float) -> None:
    data = cell(folder, max(3, round(seconds / 11) + 1))
    n_cycles = sum(1 for _ in VorausFile(data).cycle_infos())
    names = topics(broker.bootstrap)
    frames = asyncio.run(publish(data, broker.bootstrap, names["signals"], robots, real_time=False))
    steps = sum(c.n_rows for c in VorausFile(data).cycle_infos()) * robots
    out = folder / f"recorded-{uuid.uuid4().hex[:6]}"
    # Every cycle but each robot's last (it closes only when the robot goes quiet).
    args = [
        ROBOTWATCH,
        "record",
        "--bootstrap-servers",
        broker.bootstrap,
        "--signals-topic",
        names["signals"],
        "--out",
        str(out),
        "--from-beginning",
        "--cycles",
        str(n_cycles - 1),
    ]
    started = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
    took = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    recorded = json.loads((out / "manifest.json").read_text())["robots"]
    cycles = sum(len(r["recorded"]) for r in recorded.values())
    print(
        f"record: {robots} robots x {steps / robots / 500:.0f} s at 500 Hz ({frames} frames, {steps} steps, "
        f"130 signals) recorded in {took:.1f} s (start-up included): {steps / took:,.0f} steps/s = "
        f"{steps / took / 500:.0f} robots at 500 Hz in real time; {cycles} cycles written; "
        f"peak memory {peak_mb:.0f} MB"
    )


def bench_swap(folder: Path, broker: LocalBroker, robots: int, swaps: int) -> None:
    data = cell(folder, 4)
    models = folder / f"models-{uuid.uuid4().hex[:6]}"
    models.mkdir()
    retrained = [folder / f"retrained-{i}.rwmodel" for i in range(swaps + 1)]
    ids = [tiny_model(data, path, seed=i) for i, path in enumerate(retrained)]
    shutil.copy(retrained[0], models / "default.rwmodel")
    names = topics(broker.bootstrap)
    serve, port = start_serve(
        folder, broker.bootstrap, names, f'models_dir = "{models}"\nmodels_poll_s = 2.0\n'
    )
    times = []
    try:

        async def load_and_swap() -> None:
            load = asyncio.create_task(
                publish(data, broker.bootstrap, names["signals"], robots, real_time=True)
            )
            for i in range(1, swaps + 1):
                await asyncio.sleep(4.0)
                staged = models / ".default.rwmodel.new"
                shutil.copy(retrained[i], staged)
                renamed = time.monotonic()
                os.replace(staged, models / "default.rwmodel")
                while ids[i] not in {m["model_id"] for m in await asyncio.to_thread(get, port, "/models")}:
                    await asyncio.sleep(0.02)
                times.append(time.monotonic() - renamed)
            await load

        asyncio.run(load_and_swap())
        seen = asyncio.run(verdicts(broker.bootstrap, names["anomalies"]))
        rss = rss_mb(serve.pid)
    finally:
        serve.terminate()
        serve.wait(60)
    per_cycle = Counter((v["robot_id"], v["cycle_id"]) for v in seen)
    n_cycles = sum(1 for _ in VorausFile(data).cycle_infos())
    used = Counter(v["model_id"] for v in seen)
    print(
        f"swap: {swaps} swaps under {robots} robots at 500 Hz: {', '.join(f'{t:.2f}' for t in times)} s from "
        f"rename to the new model in /models (polling every 2 s; SIGHUP is immediate); {len(per_cycle)} of "
        f"{robots * n_cycles} cycles have a verdict, {sum(n > 1 for n in per_cycle.values())} more than one; "
        f"verdicts per model {dict(used)}; serve {rss[0]:.0f} MB"
    )


def bench_memory(folder: Path, broker: LocalBroker, robots: int, n_models: int) -> None:
    data = cell(folder, 3)
    files = [folder / f"kind-{k}.rwmodel" for k in range(n_models)]
    for k, path in enumerate(files):
        if not path.exists():
            tiny_model(data, path, seed=10 + k)
    # robot-001..robot-R: robot i belongs to kind i % n_models (a glob per robot id's last digit
    # would not spread evenly; exact ids are the most specific patterns anyway).
    table = "".join(f'"robot-{i + 1:03d}" = "{files[i % n_models]}"\n' for i in range(robots))
    results = []
    for count in (1, robots):
        names = topics(broker.bootstrap)
        serve, port = start_serve(
            folder, broker.bootstrap, names, f"max_robots = {max(robots, 10)}\n[models]\n{table}"
        )
        try:
            asyncio.run(publish(data, broker.bootstrap, names["signals"], count, real_time=False))
            seen = asyncio.run(verdicts(broker.bootstrap, names["anomalies"]))
            loaded = {m["model_id"] for m in get(port, "/models")}  # type: ignore[index]
            results.append((count, len(seen), *rss_mb(serve.pid), len(loaded)))
        finally:
            serve.terminate()
            serve.wait(60)
    (one, _, rss1, peak1, _), (many, vn, rssn, peakn, mn) = results
    print(
        f"memory: serve with {mn} models loaded for {many} patterns: {one} robot {rss1:.0f} MB "
        f"(peak {peak1:.0f}), {many} robots "
        f"{rssn:.0f} MB (peak {peakn:.0f}) after {vn} verdicts: {(rssn - rss1) / (many - one) * 1024:.0f} kB "
        f"per robot"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--robots", type=int, default=20)
    rec.add_argument("--seconds", type=float, default=60)
    swap = sub.add_parser("swap")
    swap.add_argument("--robots", type=int, default=20)
    swap.add_argument("--swaps", type=int, default=5)
    mem = sub.add_parser("memory")
    mem.add_argument("--robots", type=int, default=200)
    mem.add_argument("--models", type=int, default=5)
    args = parser.parse_args()
    folder = Path(os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="bench-fleet-"))
    folder.mkdir(parents=True, exist_ok=True)
    broker = LocalBroker()
    try:
        if args.what == "record":
            bench_record(folder, broker, args.robots, args.seconds)
        elif args.what == "swap":
            bench_swap(folder, broker, args.robots, args.swaps)
        else:
            bench_memory(folder, broker, args.robots, args.models)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
