"""serve under failure, against a real broker (issue 10, defects 2, 6, 8, 10, 11): a dead letter
too large to send, a frozen broker, a shutdown with the broker gone, missing topics, a muted
robot, and a flood of robots and garbage."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from robotwatch.bench.process import rss_mb
from robotwatch.playback.file_stream import file_frames
from robotwatch.playback.publisher import publish_file
from robotwatch.stream.rejects import RejectKind
from robotwatch.stream.signal_frame import SignalFrame, SignalFrameError, decode_any, encode, signal_list_id
from tests.stream.broker import Broker, ServeProcess, produce, read_all, unique
from tests.stream.conftest import SIGNALS
from tests.stream.test_serve_kafka import _expected, _topics, _verdict_ids, _wait_complete

pytestmark = pytest.mark.kafka


def _committed(broker: Broker, group: str, tp: TopicPartition) -> int | None:
    async def ask() -> int | None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            return await consumer.committed(tp)
        finally:
            await consumer.stop()

    return asyncio.run(ask())


def _publish_in_thread(
    cell: Path, broker: Broker, topic: str, robots: int, speed: float | None, timeout_s: float = 120
) -> threading.Thread:
    """The load generator, patient enough to ride out a frozen broker (`timeout_s` per send)."""
    thread = threading.Thread(
        target=lambda: asyncio.run(
            publish_file(
                cell,
                SIGNALS,
                topic,
                {"bootstrap_servers": broker.bootstrap},
                robots=robots,
                speed=speed,
                timeout_s=timeout_s,
            )
        ),
        daemon=True,
    )
    thread.start()
    return thread


def test_a_dead_letter_too_large_to_send_goes_truncated_and_commits_advance(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, samples = stream_cell
    topics, group = _topics(broker, partitions=1), unique("group")
    # Larger than the producer may send (1 MiB): the dead letter must fall back to its short copy.
    serve = start_serve(
        tmp_path, model_path, broker, topics, group, idle_close_s=3.0, dead_letter_max_bytes=2**21
    )
    serve.wait_assigned()
    huge = b"X" * (3 * 2**20)

    async def send_huge() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap,
            acks="all",
            enable_idempotence=False,
            max_request_size=8 * 2**20,
        )
        await producer.start()
        try:
            await producer.send_and_wait(topics["signals"], value=huge, key=b"robot-001")
        finally:
            await producer.stop()

    try:
        asyncio.run(send_huge())
        asyncio.run(
            publish_file(
                cell, SIGNALS, topics["signals"], {"bootstrap_servers": broker.bootstrap}, speed=None
            )
        )
        records = _wait_complete(broker, topics["anomalies"], _expected(1, samples))
        dead = asyncio.run(read_all(broker.bootstrap, topics["dlq"], expect=1, idle_s=3))
        time.sleep(3)  # a commit interval or two
        health = serve.health()
    finally:
        serve.kill(signal.SIGTERM)
    assert set(_verdict_ids(records)) == _expected(1, samples)
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["reason_kind"] == RejectKind.BAD_MAGIC and headers["truncated"] == "true"
    assert headers["source_size"] == str(len(huge)) and headers["source_offset"] == "0"
    assert 0 < len(dead[0].value) < 2**20 and dead[0].value == huge[: len(dead[0].value)]
    committed = _committed(broker, group, TopicPartition(topics["signals"], 0))
    assert committed is not None and committed > 0  # the partition commits past the huge message
    assert health is not None and health["checks"]["delivery"] is None


def test_a_broker_outage_cuts_no_cycle_short_and_the_probes_tell_it(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, samples = stream_cell
    topics, robots = _topics(broker), 3
    serve = start_serve(
        tmp_path, model_path, broker, topics, unique("group"), idle_close_s=4.0, broker_timeout_s=5.0
    )
    serve.wait_assigned()
    publisher = _publish_in_thread(cell, broker, topics["signals"], robots, speed=len(samples) * 11.5 / 25)
    during: list[tuple[int, dict] | None] = []
    try:
        time.sleep(5)  # cycles are open on every robot now
        broker.pause()
        for _ in range(12):  # 30 s without a broker
            time.sleep(2.5)
            during.append(serve.probe("/livez"))
        during.append(serve.probe("/readyz"))
        broker.resume()
        publisher.join(180)
        records = _wait_complete(broker, topics["anomalies"], _expected(robots, samples))
        recovered = serve.probe("/readyz")
    finally:
        broker.resume()
        serve.kill(signal.SIGTERM)
    ids = _verdict_ids(records)
    assert set(ids) == _expected(robots, samples) and all(len(v) == 1 for v in ids.values())
    last = {f"robot-{i + 1:03d}": str(samples[-1]) for i in range(robots)}
    cut_short = [
        (v["robot_id"], v["cycle_id"])
        for v in (json.loads(r.value) for r in records)
        if v["flags"]["incomplete"] and last[v["robot_id"]] != v["cycle_id"]
    ]
    assert cut_short == []  # only each robot's last cycle closes on the idle timeout, by design
    livez, readyz = during[:-1], during[-1]
    assert all(answer is not None and answer[0] == 200 for answer in livez)
    assert readyz is not None and readyz[0] == 503 and readyz[1]["checks"]["broker"]
    assert recovered is not None and recovered[1]["checks"]["broker"] is None


def test_shutdown_ends_within_the_grace_period_with_the_broker_gone(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, _ = stream_cell
    topics = _topics(broker)
    # No commit before the stop: both instances end with offsets that only the broker, now
    # gone, could take (an instance with nothing in hand stops in milliseconds).
    late = {"commit_interval_s": 600.0}
    serve = start_serve(
        tmp_path, model_path, broker, topics, unique("group"), grace_s=6.0, broker_timeout_s=5.0, **late
    )
    serve.wait_assigned()
    second = start_serve(tmp_path, model_path, broker, topics, unique("group"), grace_s=60.0, **late)
    second.wait_assigned()
    publisher = _publish_in_thread(cell, broker, topics["signals"], 2, speed=None)
    try:
        publisher.join(60)
        _wait_until_read_to_the_end(serve, second)
        broker.pause()
        started = time.monotonic()
        os.kill(serve.proc.pid, signal.SIGTERM)
        code = serve.proc.wait(30)
        graceful_s = time.monotonic() - started
        started = time.monotonic()
        os.kill(second.proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        os.kill(second.proc.pid, signal.SIGTERM)  # a second signal: exit now
        forced = second.proc.wait(30)
        forced_s = time.monotonic() - started
    finally:
        broker.resume()
    assert code == 0 and graceful_s < 6.0 + 3.0
    assert forced == 130 and forced_s < 3.0


def _wait_until_read_to_the_end(*serves: ServeProcess, timeout_s: float = 60) -> None:
    """Until every instance has read the same number of frames and no more arrive."""
    deadline = time.monotonic() + timeout_s
    last: list[int] = []
    while time.monotonic() < deadline:
        counts = [(serve.health() or {}).get("frames", 0) for serve in serves]
        if counts == last and counts[0] > 0 and len(set(counts)) == 1:
            return
        last = counts
        time.sleep(0.5)
    raise AssertionError(f"frames read: {last}")


def test_missing_output_topics_stop_serve_with_one_clear_line(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    _, model_path, _ = stream_cell
    topics = {"signals": unique("signals"), "anomalies": unique("nowhere"), "dlq": unique("dlq")}
    serve = start_serve(tmp_path, model_path, broker, topics, unique("group"))
    code = serve.proc.wait(60)
    serve.log.flush()
    log = Path(serve.log.name).read_text()
    assert code == 2
    assert f"error: topic(s) {topics['anomalies']}, {topics['dlq']} do not exist" in log
    assert "Traceback" not in log


def test_a_robot_that_never_closes_a_cycle_is_reported_muted(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    _, model_path, _ = stream_cell
    topics = _topics(broker)
    serve = start_serve(tmp_path, model_path, broker, topics, unique("group"), mute_s=3.0, idle_close_s=30.0)
    serve.wait_assigned()
    list_id, rng = signal_list_id(SIGNALS), np.random.default_rng(0)

    def frame(i: int) -> bytes:  # the same action forever: no cycle ever starts
        return encode(
            SignalFrame(
                list_id,
                100.0,
                1000 + 5 * i,
                10**18 + i * 50_000_000,
                None,
                False,
                np.full(5, 3, np.uint8),
                np.ones(5, np.uint8),
                rng.normal(size=(5, len(SIGNALS))).astype(np.float32),
            )
        )

    def stream(first: int) -> None:
        messages = [(b"stuck", frame(i)) for i in range(first, first + 40)]
        asyncio.run(produce(broker.bootstrap, topics["signals"], messages))

    try:
        before = serve.health()
        stream(0)
        time.sleep(5)
        stream(40)  # still streaming, still no cycle
        time.sleep(1.5)
        # Nobody asked /readyz since `before`: the gauges a monitoring system alerts on (under
        # systemd no probe calls it) must be fresh anyway.
        gauges = serve.metrics()
        after = serve.health()
    finally:
        serve.kill(signal.SIGTERM)
    assert before is not None and before["checks"]["muted_robots"] is None
    assert after is not None and not after["ready"] and "stuck" in after["checks"]["muted_robots"]
    assert "robotwatch_muted_robots 1.0" in gauges and "robotwatch_ready 0.0" in gauges


def test_a_thousand_robots_and_twenty_thousand_bad_messages_keep_memory_and_metrics_bounded(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, _ = stream_cell
    topics = _topics(broker, partitions=2)
    serve = start_serve(tmp_path, model_path, broker, topics, unique("group"), idle_close_s=2.0)
    serve.wait_assigned()
    rss_before = rss_mb(serve.proc.pid)
    valid = next(iter(file_frames(cell, SIGNALS, 1)))[1]
    rng = random.Random(3)
    robots = [(os.urandom(rng.randint(4, 40)).hex().encode(), valid) for _ in range(1000)]
    known = {signal_list_id(SIGNALS): len(SIGNALS)}
    garbage = []
    while len(garbage) < 20_000:
        value = _mutated(valid, rng) if len(garbage) % 2 else rng.randbytes(rng.randint(0, 300))
        try:
            decode_any(value, known)
        except SignalFrameError as error:
            if error.kind is not RejectKind.UNKNOWN_SIGNAL_LIST:  # that one is counted, not dead
                garbage.append((rng.randbytes(rng.randint(1, 64)), value))
    try:
        asyncio.run(produce(broker.bootstrap, topics["signals"], robots + garbage))
        dead = asyncio.run(
            read_all(broker.bootstrap, topics["dlq"], expect=len(garbage), idle_s=5, limit_s=240)
        )
        rss_after = rss_mb(serve.proc.pid)
        with urllib.request.urlopen(f"http://127.0.0.1:{serve.http_port}/metrics", timeout=5) as response:
            metrics = response.read()
        health = serve.health()
    finally:
        serve.kill(signal.SIGTERM)
    print(f"RSS {rss_before:.0f} -> {rss_after:.0f} MB, /metrics {len(metrics) / 1000:.1f} kB")
    assert len(dead) == len(garbage)
    # Robot ids become labels only by a verdict of theirs, never a key of the bad messages,
    # and only the first 200 robots (metrics_robots): the rest count as "other".
    labelled = {
        line.split('robot="')[1].split('"')[0]
        for line in metrics.decode().splitlines()
        if line.startswith("robotwatch_robot_verdicts_total{")
    }
    assert labelled <= {key.decode() for key, _ in robots} | {"other"} and len(labelled) <= 201
    assert len(metrics) < 100_000
    assert rss_after - rss_before < 300, f"RSS grew from {rss_before:.0f} to {rss_after:.0f} MB"
    kinds = {
        line.split('reason="')[1].split('"')[0]
        for line in metrics.decode().splitlines()
        if line.startswith("robotwatch_dead_letters_total{")
    }
    assert kinds and kinds <= {k.value for k in RejectKind}
    assert health is not None and health["robots"] <= 1000


def _mutated(valid: bytes, rng: random.Random) -> bytes:
    cut = rng.randint(0, len(valid) - 1)
    return valid[:cut] + rng.randbytes(rng.randint(1, 16)) + valid[cut + 16 :]
