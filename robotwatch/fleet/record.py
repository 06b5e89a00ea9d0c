"""`robotwatch record`: a robot's own stream as training data (docs/architecture.md §9).

It reads `robot.signals` with its own consumer group (serve's is never disturbed), cuts the
stream into cycles with the same assembler serve uses, and writes per robot a voraus-AD file
(`DIR/<robot>.parquet`: normal cycles, category 12, setting 72 to train on or 73 as normal test
cycles) and `DIR/manifest.json`. Cycles that were cut short, lost steps or ran too long are
left out of the files and listed in the manifest.

Resumable: offsets are committed only once the files are safe, a second run appends to the
files, and a cycle already recorded (the same start in the stream) is never added twice.
Memory stays bounded at any number of cycles: cycles go to disk as they close.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from replay import Cycle, VorausFile, VorausWriter
from replay.schema import NORMAL_TEST_SETTINGS, SIGNALS, TRAIN_SETTING, Category
from robotwatch.fleet.manifest import (
    LeftOut,
    Manifest,
    RecordedCycle,
    RobotRecord,
    read_manifest,
    write_manifest,
)
from robotwatch.naming import safe_name
from robotwatch.program import Program
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from robotwatch.stream.committer import Committer
from robotwatch.stream.rejects import Rejected
from robotwatch.stream.settings import ServeSettings
from robotwatch.stream.signal_frame import decode_any, signal_list_id
from robotwatch.stream.topics import assign_all
from robotwatch.stream.verdicts import iso_ns
from rwcore.errors import UserError

LONGEST_CYCLE_S = 120.0  # a cycle is kept up to this long; four times that, it is closed by force
SETTINGS = {"train": int(TRAIN_SETTING), "test-normal": int(min(NORMAL_TEST_SETTINGS))}


@dataclass(frozen=True)
class RecordOptions:
    out: Path
    signals: tuple[str, ...] = SIGNALS
    program: Program | None = None  # None: the voraus-AD program
    robots: frozenset[str] | None = None  # None: every robot on the topic
    cycles: int | None = None  # per robot
    duration_s: float | None = None
    label: Literal["train", "test-normal"] = "train"
    from_beginning: bool = False
    from_time_ms: int | None = None  # read from the first frame at or after this time (Kafka timestamp)
    group: str = "robotwatch-record"
    idle_close_s: float = 5.0


@dataclass
class _Robot:
    name: str
    assembler: RobotAssembler
    entry: RobotRecord
    part: Path
    writer: VorausWriter
    next_sample: int
    known: set[tuple[int, int]]
    new: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    # Once it has its cycles, a robot is read no further: the commit stays at the first frame
    # of its next cycle, so that the next run starts there.
    done_at: int | None = None


Progress = Callable[[str, int, int], None]  # robot, cycles recorded in this run, left out


class Recorder:
    def __init__(self, options: RecordOptions) -> None:
        from robotwatch.program import VORAUS_AD

        unknown = [s for s in options.signals if s not in SIGNALS]
        if unknown:
            raise UserError(f"a voraus-AD file holds only its 130 signals; not: {', '.join(unknown[:5])}")
        self.options = options
        self.program = options.program or VORAUS_AD
        self.columns = np.array([SIGNALS.index(s) for s in options.signals])
        self.known_lists = {signal_list_id(options.signals): len(options.signals)}
        options.out.mkdir(parents=True, exist_ok=True)
        self.manifest: Manifest = read_manifest(options.out)
        self.robots: dict[str, _Robot] = {}
        self.committer = Committer()
        self.refused = 0

    def take(self, robot: str, value: bytes, offset: int) -> None:
        if self.options.robots is not None and robot not in self.options.robots:
            return
        try:
            frame = decode_any(value, self.known_lists)
        except Rejected:
            self.refused += 1
            return
        state = self.robots.get(robot) or self._start(robot, frame.sample_rate_hz)
        if state.done_at is not None:
            return
        state.last_seen = time.monotonic()
        if frame.sample_rate_hz != state.entry.sample_rate_hz or self.program.unknown(frame.action):
            self.refused += 1  # another rate, or codes outside the program: not this recording
            return
        self._keep_all(state, state.assembler.feed(frame, offset))

    def _keep_all(self, state: _Robot, cycles: list[AssembledCycle]) -> None:
        for cycle in cycles:
            if state.done_at is None:
                self._keep(state, cycle)
            elif state.done_at < 0:
                state.done_at = cycle.anchor  # a cycle closed beside the last one: the next run takes it
        if state.done_at is not None and state.done_at < 0:
            anchor = state.assembler.anchor()
            state.done_at = anchor if anchor is not None else state.assembler.last_offset + 1

    def _start(self, robot: str, rate: float) -> _Robot:
        entry = self.manifest.robots.get(robot)
        if entry is None:
            entry = RobotRecord(
                file=f"{safe_name(robot)}.parquet",
                signals=list(self.options.signals),
                sample_rate_hz=rate,
                program=self.program,
                label=self.options.label,
                setting=SETTINGS[self.options.label],
            )
            self.manifest.robots[robot] = entry
        max_kept = round(LONGEST_CYCLE_S * rate)
        limits = AssemblyLimits(
            divider=1,
            max_kept=max_kept,
            idle_close_ns=round(self.options.idle_close_s * 1e9),
            first_code=self.program.first_code,
            start_rule=self.program.cycle_start,
        )
        part = self.options.out / f".{safe_name(robot)}.part.parquet"
        state = _Robot(
            robot,
            RobotAssembler(robot, len(self.options.signals), limits),
            entry,
            part,
            VorausWriter(part, rows_per_group=8192),
            max((c.sample for c in entry.recorded), default=-1) + 1,
            entry.identities,
        )
        self.robots[robot] = state
        return state

    def _keep(self, state: _Robot, cycle: AssembledCycle) -> None:
        identity = (cycle.start_seq, cycle.start_time_ns)
        if identity in state.known:
            return  # recorded by an earlier run
        reason = _why_left_out(cycle)
        if reason is not None:
            state.entry.left_out.append(
                LeftOut(start_seq=cycle.start_seq, start_time=iso_ns(cycle.start_time_ns), reason=reason)
            )
            return
        n = len(cycle.signals)
        signals = np.full((n, len(SIGNALS)), np.nan)
        signals[:, self.columns] = cycle.signals
        moving = {s.code: s.moving for s in self.program.steps}
        sample = state.next_sample
        state.writer.write_cycle(
            Cycle(
                sample=sample,
                anomaly=False,
                category=int(Category.NORMAL_OPERATION),
                setting=state.entry.setting,
                time=np.arange(n) / state.entry.sample_rate_hz,
                action=cycle.actions.astype(np.uint8),
                active=np.array([moving.get(int(a), False) for a in cycle.actions], np.int64),
                signals=signals,
            )
        )
        state.entry.recorded.append(
            RecordedCycle(
                sample=sample,
                start_seq=cycle.start_seq,
                start_time=iso_ns(cycle.start_time_ns),
                start_time_ns=cycle.start_time_ns,
                n_steps=cycle.n_steps,
            )
        )
        state.known.add(identity)
        state.next_sample += 1
        state.new += 1
        if self.options.cycles is not None and state.new >= self.options.cycles:
            state.done_at = -1  # set to the next cycle's anchor once this frame is through

    def close_quiet(self, caught_up_since: dict[str, float]) -> None:
        """Close the cycles of robots that sent nothing for `idle_close_s` *while their
        partition was caught up* (`caught_up_since`: per robot, since when everything on its
        partition was read): frames still waiting in a backlog are no pause of the robot."""
        now = time.monotonic()
        for robot, state in self.robots.items():
            since = caught_up_since.get(robot)
            quiet = since is not None and now - max(state.last_seen, since) >= self.options.idle_close_s
            if quiet and state.done_at is None and state.assembler.anchor() is not None:
                self._keep_all(state, state.assembler.close_idle())

    def done(self, started: float, read_all_once: bool) -> bool:
        """The duration is over, or every robot has its cycles. Without --robots, the robots are
        those on the topic: all of them are known only once every partition was read to its end
        (`read_all_once`); until then a robot on a partition not yet reached would be missed."""
        o = self.options
        if o.duration_s is not None and time.monotonic() - started >= o.duration_s:
            return True
        if o.cycles is None or (o.robots is None and not read_all_once):
            return False
        wanted = o.robots if o.robots is not None else set(self.robots)
        return bool(wanted) and all(r in self.robots and self.robots[r].new >= o.cycles for r in wanted)

    def finish(self) -> dict[str, int]:
        """Append each robot's new cycles to its file (an atomic replace), then the manifest."""
        for state in self.robots.values():
            state.writer.close()
            target = self.options.out / state.entry.file
            if state.new and not target.exists():
                state.part.replace(target)  # a first recording: the part file is the file
            elif state.new:  # parquet cannot append: the old cycles and the new into a new file
                merged = target.with_name(f".{target.name}.merged")
                with VorausWriter(merged, rows_per_group=8192) as out:
                    for source in (target, state.part):
                        for c in VorausFile(source).cycles():
                            # without its row numbers: the writer numbers the merged file anew
                            out.write_cycle(replace(c, index=None))
                merged.replace(target)
            state.part.unlink(missing_ok=True)
        write_manifest(self.options.out, self.manifest)
        return {r: s.new for r, s in self.robots.items()}

    def anchors(self, topic: str, partition_of: dict[str, int]) -> dict[TopicPartition, int]:
        out: dict[TopicPartition, int] = {}
        for robot, state in self.robots.items():
            anchor = state.assembler.anchor() if state.done_at is None else state.done_at
            if anchor is not None and robot in partition_of:
                tp = TopicPartition(topic, partition_of[robot])
                out[tp] = min(anchor, out.get(tp, anchor))
        return out


def _why_left_out(cycle: AssembledCycle) -> str | None:
    if cycle.incomplete:
        return "incomplete: the robot paused or the stream stopped before the cycle ended"
    if cycle.gap_steps:
        return f"gap: {cycle.gap_steps} step(s) lost"
    if cycle.truncated:
        return f"truncated: longer than {LONGEST_CYCLE_S:.0f} s"
    if len(cycle.signals) < 2:
        return "too short"
    return None


async def record(
    settings: ServeSettings,
    options: RecordOptions,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, int]:
    """Record until every robot has its cycles, the duration is over or `stop` is set (Ctrl-C:
    what was recorded is kept); returns the new cycles per robot."""
    stop = stop or asyncio.Event()
    recorder = Recorder(options)
    topic = settings.signals_topic
    consumer = AIOKafkaConsumer(
        group_id=options.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if options.from_beginning else "latest",
        request_timeout_ms=int(settings.broker_timeout_s * 3000),
        **settings.kafka.client_options(),
    )
    try:
        await asyncio.wait_for(consumer.start(), settings.broker_timeout_s)
    except (KafkaError, TimeoutError, OSError) as exc:
        await consumer.stop()
        raise UserError(f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc}") from None
    partition_of: dict[str, int] = {}
    caught_up: dict[int, float | None] = {}  # partition -> since when everything on it was read
    try:
        await _start_at(consumer, await assign_all(consumer, topic, settings.broker_timeout_s), options)
        started = time.monotonic()
        reached_end: set[int] = set()  # partitions read to their end at least once
        while not (recorder.done(started, len(reached_end) == len(consumer.assignment())) or stop.is_set()):
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, messages in batch.items():
                for message in messages:
                    recorder.committer.consumed(tp, message.offset)
                    if message.key:
                        robot = bytes(message.key).decode(errors="replace")
                        partition_of[robot] = tp.partition
                        recorder.take(robot, message.value or b"", message.offset)
            await _note_caught_up(consumer, caught_up, reached_end)
            recorder.close_quiet(
                {r: t for r, p in partition_of.items() if (t := caught_up.get(p)) is not None}
            )
            if progress is not None:
                for robot, state in recorder.robots.items():
                    progress(robot, state.new, len(state.entry.left_out))
        recorded = recorder.finish()
        offsets = recorder.committer.to_commit(recorder.anchors(topic, partition_of))
        if offsets:
            await asyncio.wait_for(consumer.commit(offsets), settings.broker_timeout_s)
    finally:
        await consumer.stop()
    return recorded


async def _note_caught_up(
    consumer: AIOKafkaConsumer, caught_up: dict[int, float | None], reached_end: set[int]
) -> None:
    """Per partition, since when everything on it has been read (None while behind or not yet
    fetched), and which partitions were read to their end at least once."""
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        behind = highwater is None or highwater > await consumer.position(tp)
        caught_up[tp.partition] = None if behind else (caught_up.get(tp.partition) or time.monotonic())
        if not behind:
            reached_end.add(tp.partition)


async def _start_at(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], options: RecordOptions
) -> None:
    """Where reading starts: the group's committed offsets (a second run goes on), unless
    --from-beginning or --from-time say otherwise."""
    if options.from_beginning:
        await consumer.seek_to_beginning(*partitions)
    elif options.from_time_ms is not None:
        found = await consumer.offsets_for_times({tp: options.from_time_ms for tp in partitions})
        for tp in partitions:
            if found.get(tp) is not None:
                consumer.seek(tp, found[tp].offset)
            else:  # nothing that late yet: what arrives from now on
                await consumer.seek_to_end(tp)
