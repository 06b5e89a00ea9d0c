"""serve's scoring processes as an operator meets them: a stop signal sent to serve's whole
process group (a terminal's Ctrl-C, systemd's stop) still scores what serve holds, and the
processes end with serve (and when it is killed: test_serve_kafka's chaos test)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from robotwatch.playback.publisher import publish_file
from tests.stream.broker import Broker, ServeProcess, read_all, still_running, unique
from tests.stream.conftest import SIGNALS
from tests.stream.test_serve_kafka import _expected, _topics

pytestmark = pytest.mark.kafka


def _scoring_up(serve: ServeProcess, timeout_s: float = 60) -> list[int]:
    """Wait until serve says its scoring processes are up; serve's child processes."""
    serve.wait_assigned()
    deadline = time.monotonic() + timeout_s
    while (doc := serve.health()) is None or doc["checks"]["scoring_processes"]:
        assert time.monotonic() < deadline, doc
        time.sleep(0.3)
    return serve.children()


def test_a_stop_signal_to_the_process_group_still_scores_and_ends_every_process(
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
        idle_close_s=30.0,
        grace_s=60,
        scoring_process=True,
    )
    children = _scoring_up(serve)
    assert len(children) >= 2, "a scoring and a localization process"
    asyncio.run(
        publish_file(
            cell, SIGNALS, topics["signals"], {"bootstrap_servers": broker.bootstrap}, robots=20, speed=None
        )
    )
    # serve is still behind a publisher this fast: cycles wait to be scored when serve's
    # process group gets the signal, its scoring processes with it.
    doc = serve.health()
    os.killpg(serve.proc.pid, signal.SIGTERM)
    assert serve.proc.wait(120) == 0  # a second signal would make serve exit at once
    assert still_running(children) == []
    records = asyncio.run(read_all(broker.bootstrap, topics["anomalies"], idle_s=2))
    verdicts = [json.loads(r.value) for r in records]
    assert doc is not None and len(verdicts) > doc["cycles"], "nothing was left to score at the signal"
    assert {(v["robot_id"], v["cycle_id"]) for v in verdicts} <= _expected(20, samples)
    assert [v for v in verdicts if v["status"] != "ok"] == []
    log = Path(serve.log.name).read_text()
    assert "died" not in log and "started again" not in log, log[-3000:]
