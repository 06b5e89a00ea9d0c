"""robotwatch serve against a real Kafka-protocol broker (tansu): every cycle gets exactly one
verdict id, through crashes, a hand-over between instances and a frozen broker."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from robotwatch.bench.broker import create_topics
from robotwatch.evaluation.protocol import evaluate_model
from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.score import Localize
from robotwatch.playback.publisher import publish_file
from robotwatch.stream.signal_frame import signal_list_id
from tests.stream import chaos
from tests.stream.broker import Broker, ServeProcess, produce, read_all, unique
from tests.stream.conftest import SIGNALS

pytestmark = pytest.mark.kafka


def _topics(broker: Broker, partitions: int = 4) -> dict[str, str]:
    topics = {"signals": unique("signals"), "anomalies": unique("anomalies"), "dlq": unique("dlq")}
    asyncio.run(create_topics(broker.bootstrap, list(topics.values()), partitions))
    return topics


def _publish(cell: Path, broker: Broker, topic: str, robots: int, speed: float | None) -> subprocess.Popen:
    """The load generator as users run it: robotwatch replay --to-kafka."""
    args = [
        str(Path(sys.executable).parent / "robotwatch"),
        "replay",
        str(cell),
        "--to-kafka",
        broker.bootstrap,
        "--topic",
        topic,
        "--robots",
        str(robots),
        "--model",
        str(cell.with_name("model.rwmodel")),
    ]
    args += ["--as-fast-as-possible"] if speed is None else ["--speed", str(speed)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _verdict_ids(records: list) -> dict[tuple[str, str], set[str]]:
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        v = json.loads(r.value)
        ids[(v["robot_id"], v["cycle_id"])].add(v["verdict_id"])
    return ids


def _expected(robots: int, samples: list[int]) -> set[tuple[str, str]]:
    return {(f"robot-{i + 1:03d}", str(s)) for i in range(robots) for s in samples}


def test_twenty_robots_one_verdict_id_per_cycle_with_the_offline_score(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, samples = stream_cell
    topics = _topics(broker)
    serve = start_serve(
        tmp_path,
        model_path,
        broker,
        topics,
        unique("group"),
        idle_close_s=4.0,
        scoring_threads=1,
        scoring_process=True,
    )
    try:
        serve.wait_assigned()
        stats = asyncio.run(
            publish_file(
                cell,
                SIGNALS,
                topics["signals"],
                {"bootstrap_servers": broker.bootstrap},
                robots=20,
                speed=None,
            )
        )
        assert stats.frames > 0
        records = asyncio.run(
            read_all(broker.bootstrap, topics["anomalies"], expect=20 * len(samples), idle_s=4)
        )
        health = serve.health()
        with urllib.request.urlopen(f"http://127.0.0.1:{serve.http_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
    finally:
        serve.kill(signal.SIGTERM)
    ids = _verdict_ids(records)
    assert set(ids) == _expected(20, samples)
    assert all(len(v) == 1 for v in ids.values()) and len(records) == len(ids)
    offline = evaluate_model(load_model(model_path), cell, localize=Localize.NONE).results.set_index(
        "sample"
    )["score"]
    for r in records:
        v = json.loads(r.value)
        assert v["score"] == pytest.approx(offline[int(v["cycle_id"])], rel=1e-4), json.dumps(v)
        assert r.key.decode() == v["robot_id"]
    assert health is not None and health["dead_letters"] == 0 and health["ready"], health
    assert health["cycles"] == len(records) and health["consumer_lag"] == 0
    scored = sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("robotwatch_cycles_total")
    )
    assert scored == len(records)
    assert "robotwatch_verdict_latency_seconds_bucket" in metrics and "robotwatch_broker_up 1.0" in metrics
    assert "1 CPU thread per forward pass, in scoring processes" in Path(serve.log.name).read_text()


def _wait_complete(broker: Broker, topic: str, expected: set, limit_s: float = 120) -> list:
    deadline = time.monotonic() + limit_s
    while True:
        records = asyncio.run(read_all(broker.bootstrap, topic, idle_s=2, limit_s=30))
        if expected <= set(_verdict_ids(records)) or time.monotonic() > deadline:
            return records


def test_serve_killed_again_and_again_gives_the_verdicts_of_a_calm_run(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    """SIGKILLs at random moments (`tests/bench/bench_serve_faults.py chaos` runs 20 and more):
    every cycle gets its verdict, with the content a run without kills gives, field for field,
    and no scoring process outlives the serve that started it."""
    cell, model_path, samples = stream_cell
    robots = 5

    def publish(cell: Path, broker: Broker, topic: str, robots: int, duration_s: float) -> subprocess.Popen:
        return _publish(
            cell, broker, topic, robots, speed=len(samples) * 11.5 / duration_s if duration_s else None
        )

    expect = robots * len(samples)
    calm, _ = chaos.run(
        broker,
        cell,
        model_path,
        tmp_path,
        start_serve,
        publish,
        robots=robots,
        kills=0,
        expect=expect,
        duration_s=0,
    )
    killed, differing = chaos.run(
        broker,
        cell,
        model_path,
        tmp_path,
        start_serve,
        publish,
        robots=robots,
        kills=4,
        expect=expect,
        duration_s=20,
    )
    assert len(calm.verdicts) == expect and killed.kills == 4 and killed.orphans == []
    assert differing == [], "one verdict id with two contents"
    assert chaos.compare(killed, calm) == {"lost": [], "invented": [], "changed": []}


def test_a_second_instance_takes_over_when_the_first_stops(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, samples = stream_cell
    topics, group, robots = _topics(broker), unique("group"), 4
    options = {"idle_close_s": 4.0, "session_timeout_s": 6.0}
    first = start_serve(tmp_path, model_path, broker, topics, group, **options)
    first.wait_assigned()
    publisher = _publish(cell, broker, topics["signals"], robots, speed=len(samples) * 11.5 / 20)  # ~20 s
    deadline = time.monotonic() + 30
    while first.metrics().count("robotwatch_consumer_lag{") < 4 and time.monotonic() < deadline:
        time.sleep(0.2)  # the first instance has read from every partition
    second = start_serve(tmp_path, model_path, broker, topics, group, **options)
    try:
        second.wait_assigned()
        time.sleep(3)
        # The first instance handed partitions over: it reports lag only for those it still owns.
        owned = set(first.health()["assigned_partitions"])  # type: ignore[index]
        lagging = re.findall(r'^robotwatch_consumer_lag\{partition="(\d+)"', first.metrics(), re.MULTILINE)
        reported = {f"{topics['signals']}[{p}]" for p in lagging}
        assert 0 < len(owned) < 4 and reported <= owned, (owned, reported)
        assert first.kill(signal.SIGTERM) == 0  # graceful: finishes what it holds, commits, leaves
        assert publisher.wait(90) == 0
        records = _wait_complete(broker, topics["anomalies"], _expected(robots, samples))
        took_over = second.health()
    finally:
        second.kill(signal.SIGTERM)
        publisher.kill()
    ids = _verdict_ids(records)
    assert set(ids) == _expected(robots, samples)
    assert all(len(v) == 1 for v in ids.values())
    assert took_over is not None and len(took_over["assigned_partitions"]) == 4


def _garbage(valid: bytes, count: int) -> list[bytes]:
    """Malformed frames from hypothesis: random bytes, and valid frames cut, grown or corrupted."""
    found: list[bytes] = []
    mutated = st.builds(
        lambda i, b: valid[:i] + b + valid[i + len(b) :],
        st.integers(0, len(valid) - 1),
        st.binary(min_size=1, max_size=16),
    )
    strategy = st.binary(max_size=200) | mutated | st.integers(1, len(valid) - 1).map(lambda n: valid[:n])

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(data: bytes) -> None:
        found.append(data)

    collect()
    from robotwatch.stream.rejects import RejectKind
    from robotwatch.stream.signal_frame import SignalFrameError, decode_any

    bad = []
    for data in found:
        try:
            decode_any(data, {signal_list_id(SIGNALS): len(SIGNALS)})
        except SignalFrameError as error:
            # A well-formed frame of another signal list fits another model: serve counts its
            # robot as mismatched (tests/fleet/test_registry.py), it is no dead letter.
            if error.kind is not RejectKind.UNKNOWN_SIGNAL_LIST:
                bad.append(data)
    return bad


def test_thousands_of_malformed_frames_go_to_the_dead_letter_topic(
    broker: Broker,
    stream_cell: tuple[Path, Path, list[int]],
    tmp_path: Path,
    start_serve: Callable[..., ServeProcess],
) -> None:
    cell, model_path, samples = stream_cell
    topics = {
        "signals": unique("signals"),
        "anomalies": unique("anomalies"),
        "dlq": unique("dlq"),
    }  # serve creates them
    from robotwatch.playback.embedded import file_frames

    valid = next(iter(file_frames(cell, SIGNALS, 1)))[1]
    bad = _garbage(valid, 3500)
    assert len(bad) >= 2000
    serve = start_serve(
        tmp_path,
        model_path,
        broker,
        topics,
        unique("group"),
        idle_close_s=4.0,
        create_topics=True,
        topic_partitions=2,
    )
    serve.wait_assigned()
    try:
        sender = threading.Thread(
            target=lambda: asyncio.run(
                produce(
                    broker.bootstrap,
                    topics["signals"],
                    [(b"garbage-%d" % (i % 7), data) for i, data in enumerate(bad)],
                )
            )
        )
        sender.start()
        stats = asyncio.run(
            publish_file(
                cell,
                SIGNALS,
                topics["signals"],
                {"bootstrap_servers": broker.bootstrap},
                robots=1,
                speed=None,
            )
        )
        sender.join()
        records = _wait_complete(broker, topics["anomalies"], _expected(1, samples))
        dead = asyncio.run(read_all(broker.bootstrap, topics["dlq"], expect=len(bad), idle_s=3))
        health = serve.health()
    finally:
        serve.kill(signal.SIGTERM)
    assert stats.frames > 0 and health is not None
    assert len(dead) == len(bad) == health["dead_letters"]
    reasons = {dict(r.headers)["reason"].decode().split(" ")[0] for r in dead}
    assert len(reasons) > 5  # many different faults, each named
    assert all({"source_topic", "source_partition", "source_offset"} <= set(dict(r.headers)) for r in dead)
    assert set(_verdict_ids(records)) == _expected(1, samples)  # the good robot lost nothing
