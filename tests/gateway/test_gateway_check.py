"""`robotwatch gateway check`: every mistake a gateway author can make is named in plain words,
robot by robot (unit tests of FrameCheck, then the command against a real broker)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from replay.schema import SIGNAL_GROUPS
from robotwatch.bench.broker import create_topics
from robotwatch.cli.main import app
from robotwatch.gateway import FrameCutter, FrameWriter
from robotwatch.gateway.check import DEFAULTS, FrameCheck
from robotwatch.stream.signal_frame import SignalFrame, encode
from tests.gateway.controller import controller_blocks
from tests.stream.broker import Broker, produce, unique

MACHINE = list(SIGNAL_GROUPS["machine"])


@pytest.fixture(scope="module")
def good_frames(small_cell: Path) -> list[SignalFrame]:
    """Frames of the small cell's first cycles as FrameWriter cuts them."""
    cutter = FrameCutter(MACHINE, 100)
    frames = []
    for block in itertools.islice(controller_blocks(small_cell, MACHINE, 100), 700):
        frames += cutter.add(block.seq, block.time_ns, block.action, block.active, block.values)
    return frames + cutter.flush()


def checked(frames: list[SignalFrame]) -> FrameCheck:
    check = FrameCheck(DEFAULTS)
    for offset, frame in enumerate(frames):
        check.take(encode(frame), offset)
    return check


def test_frames_as_framewriter_cuts_them_are_fine(good_frames: list[SignalFrame]) -> None:
    check = checked(good_frames)
    assert check.findings() == []
    assert check.starts >= 4
    assert "cycle starts" in check.summary()


def test_a_gap_a_repeat_and_a_reset_are_told_apart(good_frames: list[SignalFrame]) -> None:
    frames = list(good_frames[:40])
    del frames[10]  # a lost frame
    frames.insert(20, frames[19])  # a producer retry
    # a reboot
    frames += [dataclasses.replace(f, seq=f.seq - good_frames[40].seq) for f in good_frames[40:60]]
    text = " | ".join(checked(frames).findings())
    assert f"seq jumped 1 times ({good_frames[10].n_steps} steps lost, first at offset 10)" in text
    assert "1 frames repeat steps already sent (first at offset 20)" in text
    assert "seq started again 1 times (first at offset 40)" in text


def test_a_wrong_signal_list_is_named_with_the_expected_one(small_cell: Path) -> None:
    electrical = list(SIGNAL_GROUPS["electrical"])
    cutter = FrameCutter(electrical, 100)
    block = next(controller_blocks(small_cell, electrical, 100))
    frames = cutter.add(block.seq, block.time_ns, block.action, block.active, block.values) + cutter.flush()
    (finding,) = checked(frames).findings()
    assert "the 40 electrical signals of voraus-AD" in finding
    assert "expects 0xc2a9f497 (130 signals" in finding


def test_codes_outside_the_program_a_bad_clock_and_frames_across_cycles(
    good_frames: list[SignalFrame],
) -> None:
    frames = [dataclasses.replace(f) for f in good_frames[:60]]
    frames[5] = dataclasses.replace(frames[5], action=np.full(frames[5].n_steps, 40, np.uint8))
    frames = [
        dataclasses.replace(f, time_ns=f.time_ns * 2 - good_frames[0].time_ns) if i > 30 else f
        for i, f in enumerate(frames)
    ]
    # Merge two frames around a cycle start into one that holds both cycles' steps.
    start = next(i for i, f in enumerate(frames) if f.cycle_start and i > 1)
    a, b = frames[start - 1], frames[start]
    merged = dataclasses.replace(
        a,
        cycle_start=False,
        action=np.concatenate([a.action, b.action]),
        active=np.concatenate([a.active, b.active]),
        signals=np.concatenate([a.signals, b.signals]),
    )
    frames[start - 1 : start + 1] = [merged]
    text = " | ".join(checked(frames).findings())
    assert "action codes that are no step of 'voraus-AD pick and place': 40 (" in text
    assert "the controller clock disagrees with seq" in text and "which at 100 Hz take" in text
    assert (
        f"1 frames hold the end of one cycle and the start of the next (first at offset {start - 1})" in text
    )


def test_what_serve_refuses_is_reported_with_its_reason() -> None:
    check = FrameCheck(DEFAULTS)
    check.take(b"hello", 3)
    (finding,) = check.findings()
    assert finding.startswith("1 frames serve would refuse (truncated), the first at offset 3:")


def test_the_command_reports_each_robot(
    good_frames: list[SignalFrame], small_cell: Path, tmp_path: Path
) -> None:
    broker = Broker(tmp_path)
    try:
        topic = unique("signals")
        asyncio.run(create_topics(broker.bootstrap, [topic]))

        async def send() -> None:
            async with FrameWriter(
                "good-robot", MACHINE, 100, topic=topic, bootstrap_servers=broker.bootstrap
            ) as w:
                for block in itertools.islice(controller_blocks(small_cell, MACHINE, 100), 120):
                    await w.add(block.seq, block.time_ns, block.action, block.active, block.values)
            gappy = [encode(f) for i, f in enumerate(good_frames[:50]) if i != 7]
            await produce(broker.bootstrap, topic, [(b"gappy-robot", v) for v in gappy] + [(b"", b"RWSF")])

        asyncio.run(send())
        args = [
            "gateway",
            "check",
            "--bootstrap-servers",
            broker.bootstrap,
            "--signals-topic",
            topic,
            "--from-beginning",
            "--duration",
            "6",
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "✓ good-robot:" in result.output
        assert "✗ gappy-robot:" in result.output and "seq jumped 1 times" in result.output
        assert "1 messages have no key" in result.output

        result = CliRunner().invoke(app, [*args, "--robots", "good-robot"])
        assert result.exit_code == 0, result.output
        assert "gappy-robot" not in result.output
    finally:
        broker.stop()
