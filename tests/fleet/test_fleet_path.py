"""The whole path a plant follows, against a real broker and real serve process: three robots
of two kinds publish through the gateway SDK -> `record` writes their training files ->
`train` -> `serve --models DIR` scores each robot with its own model -> a retrained model is
swapped in while frames flow, and every cycle gets exactly one verdict, from the model that
was current when it closed (its score is that model's offline score)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from replay import VorausFile
from replay.schema import SIGNAL_GROUPS
from replay.simulator import load_profile, write_dataset
from robotwatch.bench.broker import create_topics
from robotwatch.cli.main import app
from robotwatch.evaluation.protocol import score_file
from robotwatch.gateway import FrameWriter
from robotwatch.mtsflow.model_file import load_model
from robotwatch.mtsflow.score import Scorer
from tests.gateway.controller import controller_blocks
from tests.stream.broker import Broker, ServeProcess, one_producer, read_all, unique

pytestmark = pytest.mark.kafka

# Two kinds of robot: another cell profile, another signal list, another program.
KINDS = {
    "a": {"profile": "default", "signals": "electrical", "robots": ["a-1", "a-2"], "program": None},
    "b": {"profile": "ur5-cell", "signals": "measured", "robots": ["b-1"], "program": "ur5 palletizer"},
}
TRAIN = ("--epochs", "1", "--batch-size", "4", "--rate", "50", "--device", "cpu")


def program_toml(name: str) -> str:
    steps = "".join(
        f'  {{code = {c}, name = "P{c}", moving = {"true" if c % 2 else "false"}}},\n' for c in range(15)
    )
    return f'[program]\nname = "{name}"\nsteps = [\n{steps}]\n'


async def run_robots(bootstrap: str, topic: str, cells: dict[str, Path], pace_s: float = 0.0) -> None:
    """Every robot runs its kind's cycles through FrameWriter, all robots side by side."""

    async def robot(robot_id: str, kind: str, offset: int, producer: AIOKafkaProducer) -> None:
        signals = SIGNAL_GROUPS[KINDS[kind]["signals"]]
        async with FrameWriter(robot_id, signals, 100, topic=topic, producer=producer) as writer:
            for i, b in enumerate(controller_blocks(cells[kind], signals, 100, first_seq=offset)):
                await writer.add(
                    b.seq, b.time_ns, b.action, b.active, b.values, cycle=b.cycle, cycle_start=b.first
                )
                if pace_s and i % 10 == 0:
                    await asyncio.sleep(pace_s)

    async with one_producer(bootstrap) as producer:
        await asyncio.gather(
            *(
                robot(r, k, 1000 * n, producer)
                for n, (k, r) in enumerate((k, r) for k, spec in KINDS.items() for r in spec["robots"])
            )
        )


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_gateway_record_train_serve_and_swap(tmp_path: Path) -> None:
    cells = {}
    for kind, spec in KINDS.items():
        cells[kind] = tmp_path / f"{kind}.parquet"
        write_dataset(cells[kind], load_profile(spec["profile"]), n_cycles=10, rate=100, seed=5)
    broker = Broker(tmp_path)
    try:
        _whole_path(broker, cells, tmp_path)
    finally:
        broker.stop()


def _whole_path(broker: Broker, cells: dict[str, Path], tmp_path: Path) -> None:
    bootstrap = broker.bootstrap
    # 1. The robots' normal operation, recorded per kind (each kind has its signals and program).
    recording = unique("recording")
    asyncio.run(create_topics(bootstrap, [recording]))
    asyncio.run(run_robots(bootstrap, recording, cells))
    data = tmp_path / "recorded"
    for kind, spec in KINDS.items():
        config = tmp_path / f"{kind}.toml"
        config.write_text(program_toml(spec["program"]) if spec["program"] else "")
        invoke(
            "record",
            "--bootstrap-servers",
            bootstrap,
            "--signals-topic",
            recording,
            "--out",
            str(data),
            "--robots",
            ",".join(spec["robots"]),
            "--signals",
            spec["signals"],
            "--cycles",
            "6",
            "--from-beginning",
            "--config",
            str(config),
        )

    # 2. A model per kind, trained on one robot's recording; a retrained one for kind a.
    models = tmp_path / "models"
    models.mkdir()
    files = {"a": tmp_path / "a.rwmodel", "b": tmp_path / "b.rwmodel", "a2": tmp_path / "a-retrained.rwmodel"}
    invoke("train", str(data / "a-1.parquet"), "--out", str(files["a"]), *TRAIN, "--seed", "1")
    invoke("train", str(data / "b-1.parquet"), "--out", str(files["b"]), *TRAIN, "--seed", "1")
    invoke("train", str(data / "a-2.parquet"), "--out", str(files["a2"]), *TRAIN, "--seed", "2")
    shutil.copy(files["a"], models / "default.rwmodel")
    shutil.copy(files["b"], models / "b-1.rwmodel")
    cards = {name: load_model(path).card for name, path in files.items()}
    assert (
        cards["a"].signals == list(SIGNAL_GROUPS["electrical"])
        and cards["b"].program.name == "ur5 palletizer"
    )
    ids = {n: c.model_id for n, c in cards.items()}

    # 3. serve with the model directory; the robots go on working; a retrained model arrives.
    topics = {"signals": unique("signals"), "anomalies": unique("anomalies"), "dlq": unique("dlq")}
    asyncio.run(create_topics(bootstrap, list(topics.values()), 2))
    serve = ServeProcess(
        tmp_path,
        None,
        broker,
        topics,
        unique("group"),
        models_dir=str(models),
        models_poll_s=0.3,
        idle_close_s=5.0,  # a stall of the robots' writers on a busy machine must not cut a cycle
    )
    try:
        serve.wait_assigned()
        assert {m["robots"]: m["model_id"] for m in serve.models()} == {"default": ids["a"], "b-1": ids["b"]}

        async def robots_and_swap() -> float:
            robots = asyncio.create_task(run_robots(bootstrap, topics["signals"], cells, pace_s=0.05))
            await asyncio.sleep(3.0)
            staged = models / ".default.rwmodel.new"
            shutil.copy(files["a2"], staged)
            os.replace(staged, models / "default.rwmodel")  # the documented way: write beside, rename over
            swapped_at = time.monotonic()
            while ids["a2"] not in {m["model_id"] for m in await asyncio.to_thread(serve.models)}:
                assert not robots.done(), "the swap took longer than the robots ran"
                await asyncio.sleep(0.1)
            swap_s = time.monotonic() - swapped_at
            await robots
            return swap_s

        swap_s = asyncio.run(robots_and_swap())
        expected = {
            (r, str(s)) for k, spec in KINDS.items() for r in spec["robots"] for s in _samples(cells[k])
        }
        records = asyncio.run(read_all(bootstrap, topics["anomalies"], expect=len(expected), idle_s=5))
        health = serve.health()
    finally:
        serve.kill(signal.SIGTERM)
    print(f"swap: {swap_s:.2f} s from rename to the new model in /models")

    verdicts = [json.loads(r.value) for r in records]
    by_cycle = defaultdict(list)
    for v in verdicts:
        by_cycle[(v["robot_id"], v["cycle_id"])].append(v)
    assert set(by_cycle) == expected
    assert all(len(v) == 1 for v in by_cycle.values()), "a cycle was scored twice"
    assert health is not None and health["dead_letters"] == 0, health

    offline = {name: _offline(path, cells["b" if name == "b" else "a"]) for name, path in files.items()}
    name_of = {model_id: name for name, model_id in ids.items()}
    for robot in ("a-1", "a-2", "b-1"):
        mine = sorted((v for v in verdicts if v["robot_id"] == robot), key=lambda v: v["start_seq"])
        used = [name_of[v["model_id"]] for v in mine]
        if robot == "b-1":
            assert set(used) == {"b"}
        else:  # the old model up to the swap, the new one after it, never back
            assert used == sorted(used, key=["a", "a2"].index) and set(used) == {"a", "a2"}, used
        for v in mine:
            expected_score = offline[name_of[v["model_id"]]][int(v["cycle_id"])]
            assert v["score"] == pytest.approx(expected_score, rel=1e-4), (robot, v["cycle_id"], v["flags"])


def _samples(cell: Path) -> list[int]:
    return [i.sample for i in VorausFile(cell).cycle_infos()]


def _offline(model_path: Path, cell: Path) -> dict[int, float]:
    """The model's scores of every cycle of the file, scored from the file."""
    model = load_model(model_path)
    card = model.card
    scores = score_file(Scorer(model, "cpu"), cell, card.signals, card.sample_rate_hz, part="all").results
    return dict(zip(scores["sample"], scores["score"], strict=True))
