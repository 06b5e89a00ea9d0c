"""`robotwatch record` against a real broker: a robot's own stream becomes voraus-AD training
files that hold exactly the cycles it ran, resumably, and `train` reads them unchanged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from replay import VorausFile
from replay.schema import SIGNAL_GROUPS, TRAIN_SETTING, Category
from replay.simulator import load_profile, write_dataset
from robotwatch.bench.broker import create_topics
from robotwatch.cli.main import app
from robotwatch.fleet.manifest import read_manifest
from robotwatch.gateway import FrameWriter
from robotwatch.mtsflow.model_file import load_model
from tests.gateway.controller import controller_blocks, cycle_values
from tests.stream.broker import Broker, one_producer, unique

SIGNALS = list(SIGNAL_GROUPS["electrical"])
PROGRAM_TOML = (
    '[program]\nname = "cell-9 pick and place"\nsteps = [\n'
    + "".join(
        f'  {{code = {c}, name = "STEP_{c}", moving = {"true" if c % 2 else "false"}}},\n' for c in range(15)
    )
    + "]\n"
)


@pytest.fixture(scope="module")
def cell(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("record") / "cell.parquet"
    write_dataset(path, load_profile("default"), n_cycles=12, rate=100, seed=21)
    return path


async def publish(bootstrap: str, topic: str, cell: Path, lose_block: int | None = None) -> None:
    """Robots r1 and r2 run the cell's cycles through the gateway SDK; r2 loses one block."""
    async with (
        one_producer(bootstrap) as producer,
        FrameWriter("r1", SIGNALS, 100, topic=topic, producer=producer) as r1,
        FrameWriter("r2", SIGNALS, 100, topic=topic, producer=producer) as r2,
    ):
        for i, b in enumerate(controller_blocks(cell, SIGNALS, 100)):
            await r1.add(b.seq, b.time_ns, b.action, b.active, b.values, cycle=b.cycle)
            if i != lose_block:
                await r2.add(b.seq, b.time_ns, b.action, b.active, b.values, cycle=b.cycle)


def record(bootstrap: str, topic: str, out: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            "record",
            "--bootstrap-servers",
            bootstrap,
            "--signals-topic",
            topic,
            "--out",
            str(out),
            "--signals",
            "electrical",
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_record_resume_and_train(cell: Path, tmp_path: Path) -> None:
    source = cycle_values(cell, SIGNALS)
    samples = list(source)
    blocks = list(controller_blocks(cell, SIGNALS, 100))
    # A block in the middle of the file's 4th cycle: r2 loses steps of that cycle.
    lose = next(i for i, b in enumerate(blocks) if b.cycle == samples[3]) + 20
    broker = Broker(tmp_path)
    try:
        topic = unique("signals")
        asyncio.run(create_topics(broker.bootstrap, [topic]))
        asyncio.run(publish(broker.bootstrap, topic, cell, lose_block=lose))
        out = tmp_path / "recorded"
        config = tmp_path / "cell.toml"
        config.write_text(PROGRAM_TOML)

        shown = record(
            broker.bootstrap, topic, out, "--cycles", "3", "--from-beginning", "--config", str(config)
        )
        assert "recorded 6 new cycles of 2 robots" in shown
        manifest = read_manifest(out)
        assert set(manifest.robots) == {"r1", "r2"}
        r1, r2 = manifest.robots["r1"], manifest.robots["r2"]
        assert (
            r1.signals == SIGNALS and r1.sample_rate_hz == 100 and r1.program.name == "cell-9 pick and place"
        )
        # The first cycle's start was never seen (no counter change before it): not recorded.
        assert [c.n_steps for c in r1.recorded] == [len(source[s]) for s in samples[1:4]]
        # r2's 4th cycle lost a block: left out, with the reason, and the next one taken instead.
        assert [c.reason.split(":")[0] for c in r2.left_out] == ["gap"]
        assert [c.n_steps for c in r2.recorded] == [
            len(source[s]) for s in (samples[1], samples[2], samples[4])
        ]

        stored = list(VorausFile(out / "r1.parquet", signals=SIGNALS).cycles())
        assert [(c.category, c.setting, c.anomaly) for c in stored] == [
            (int(Category.NORMAL_OPERATION), int(TRAIN_SETTING), False)
        ] * 3
        for cycle, sample in zip(stored, samples[1:4], strict=True):
            np.testing.assert_array_equal(cycle.signals.astype(np.float32), source[sample])

        # A second run goes on where the first stopped; a third from the beginning adds no
        # cycle twice.
        record(broker.bootstrap, topic, out, "--cycles", "2", "--robots", "r1")
        record(broker.bootstrap, topic, out, "--cycles", "1", "--robots", "r1", "--from-beginning")
        r1 = read_manifest(out).robots["r1"]
        assert [c.n_steps for c in r1.recorded] == [len(source[s]) for s in samples[1:7]]
        assert len({c.start_seq for c in r1.recorded}) == 6
        assert [c.sample for c in VorausFile(out / "r1.parquet").cycle_infos()] == [
            c.sample for c in r1.recorded
        ]
    finally:
        broker.stop()

    # train reads the signals and the program from the manifest: no --signals needed.
    model_path = tmp_path / "r1.rwmodel"
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(out / "r1.parquet"),
            "--out",
            str(model_path),
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--rate",
            "50",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    card = load_model(model_path).card
    assert card.signals == SIGNALS
    assert card.program.name == "cell-9 pick and place" and card.program.name_of(5) == "STEP_5"
    assert json.loads((out / "manifest.json").read_text())["format"] == "robotwatch.record/1"


def test_record_says_what_is_wrong(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["record", "--out", str(tmp_path), "--bootstrap-servers", "127.0.0.1:9"])
    assert result.exit_code == 2 and "say when to stop" in result.output
    result = CliRunner().invoke(
        app, ["record", "--out", str(tmp_path), "--cycles", "1", "--from-time", "yesterday"]
    )
    assert result.exit_code == 2 and "'yesterday' is no ISO 8601 time" in result.output


def test_reading_a_backlog_cuts_no_cycle_short(cell: Path, tmp_path: Path) -> None:
    """Read from the beginning, a robot's frames may come seconds apart while other partitions
    are read: that is no pause of the robot, and no cycle may be left out as incomplete."""
    from robotwatch.fleet.record import RecordOptions
    from robotwatch.fleet.record import record as run_record
    from robotwatch.stream.settings import KafkaSettings, ServeSettings

    broker = Broker(tmp_path)
    try:
        topic = unique("signals")
        asyncio.run(create_topics(broker.bootstrap, [topic], partitions=3))

        async def four_robots() -> None:
            async with one_producer(broker.bootstrap) as producer:
                writers = [
                    FrameWriter(f"r{i}", SIGNALS, 100, topic=topic, producer=producer) for i in range(4)
                ]
                for b in controller_blocks(cell, SIGNALS, 100):
                    for w in writers:
                        await w.add(
                            b.seq, b.time_ns, b.action, b.active, b.values, cycle=b.cycle, cycle_start=b.first
                        )
                for w in writers:
                    await w.close()

        asyncio.run(four_robots())
        settings = ServeSettings(signals_topic=topic, kafka=KafkaSettings(bootstrap_servers=broker.bootstrap))
        # A quiet time far shorter than reading the other partitions takes.
        options = RecordOptions(
            out=tmp_path / "out",
            signals=tuple(SIGNALS),
            cycles=11,
            from_beginning=True,
            idle_close_s=0.05,
            duration_s=60,
        )
        recorded = asyncio.run(run_record(settings, options))
    finally:
        broker.stop()
    manifest = read_manifest(tmp_path / "out")
    assert {r: e.left_out for r, e in manifest.robots.items()} == {f"r{i}": [] for i in range(4)}
    assert recorded == {f"r{i}": 11 for i in range(4)}  # 12 cycles, the last still open
