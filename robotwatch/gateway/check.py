"""`robotwatch gateway check`: what is wrong with the frames a gateway sends, in plain words.

It reads the signals topic with its own consumer group (serve is never disturbed), and for
each robot compares the frames with what that robot's model expects (or, without a model,
with the voraus-AD defaults): the signal list, the rate, the program's action codes, a
counter that counts steps without gaps, repeats or resets, a controller clock that advances
with it, and frames that never span two cycles.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from replay.schema import SIGNAL_GROUPS
from robotwatch.program import VORAUS_AD, Program
from robotwatch.stream.rejects import Rejected
from robotwatch.stream.settings import ServeSettings
from robotwatch.stream.signal_frame import HEADER, SignalFrame, decode_any, signal_list_id
from robotwatch.stream.topics import assign_all
from rwcore.errors import UserError

if TYPE_CHECKING:
    from robotwatch.fleet.registry import ModelRegistry

# Lists a gateway may send by mistake, named so that a wrong id can be told apart.
NAMED_LISTS = {
    signal_list_id(s): f"the {len(s)} {name} signals of voraus-AD" for name, s in SIGNAL_GROUPS.items()
}


@dataclass(frozen=True)
class Expected:
    """What one robot's frames must be: from its model, or the voraus-AD defaults."""

    source: str  # "model cell7.rwmodel (mtsflow-...)" or "no model: the voraus-AD defaults"
    list_id: int
    n_signals: int
    rate_hz: float | None  # the model's rate: the frames' must be a whole multiple
    program: Program = VORAUS_AD


DEFAULTS = Expected("no model: the voraus-AD defaults", signal_list_id(SIGNAL_GROUPS["machine"]), 130, None)


@dataclass
class FrameCheck:
    """Everything noticed about one robot's frames, in arrival order."""

    expected: Expected
    frames: int = 0
    steps: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # reason kind -> frames
    first_refused: dict[str, tuple[int, str]] = field(default_factory=dict)  # kind -> offset, reason
    lists: Counter[int] = field(default_factory=Counter)
    rates: Counter[float] = field(default_factory=Counter)
    sizes: Counter[int] = field(default_factory=Counter)
    gaps: int = 0
    lost_steps: int = 0
    repeats: int = 0
    resets: int = 0
    clock_off: int = 0
    clock_example: str = ""
    outside_program: Counter[int] = field(default_factory=Counter)
    spanning: int = 0
    span_example: int = -1  # offset
    flagged: int = 0
    starts: int = 0
    active_off: int = 0
    first_offset: dict[str, int] = field(default_factory=dict)
    _next_seq: int | None = None
    _last: SignalFrame | None = None
    _last_action: int = -1
    _last_cycle: int | None = None

    def take(self, value: bytes, offset: int) -> None:
        self.frames += 1
        try:
            header_list, n_signals = _list_of(value)
            frame = decode_any(value, {header_list: n_signals})
        except Rejected as exc:
            self.refused[exc.kind] += 1
            self.first_refused.setdefault(exc.kind, (offset, str(exc)))
            return
        self.steps += frame.n_steps
        self.lists[frame.signal_list_id] += 1
        self.rates[frame.sample_rate_hz] += 1
        self.sizes[frame.n_steps] += 1
        self.flagged += frame.cycle_start
        self._sequence(frame, offset)
        self._clock(frame)
        self._program(frame, offset)
        self._last = frame

    def _note(self, what: str, offset: int) -> None:
        self.first_offset.setdefault(what, offset)

    def _sequence(self, frame: SignalFrame, offset: int) -> None:
        """As serve's assembler tells them apart: far back with the clock going on is a reboot,
        far back with the clock going back too is a stale retry."""
        expected, last = self._next_seq, self._last
        end = frame.seq + frame.n_steps
        if expected is not None and last is not None:
            window = 8 * max(self.sizes)
            clock_on = frame.time_ns >= last.time_ns + (last.n_steps - window) * 1e9 / frame.sample_rate_hz
            if frame.seq > expected:
                self.gaps += 1
                self.lost_steps += frame.seq - expected
                self._note("gap", offset)
            elif end <= expected - window and clock_on:
                self.resets += 1
                self._note("reset", offset)
                expected = None
            elif frame.seq < expected:
                self.repeats += 1
                self._note("repeat", offset)
        self._next_seq = end if expected is None else max(expected, end)

    def _clock(self, frame: SignalFrame) -> None:
        last = self._last
        if last is None or frame.seq <= last.seq:
            return
        want_ms = (frame.seq - last.seq) * 1e3 / frame.sample_rate_hz
        got_ms = (frame.time_ns - last.time_ns) / 1e6
        if abs(got_ms - want_ms) > max(0.2 * want_ms, 2.0) and got_ms < 1000:  # longer: a pause
            self.clock_off += 1
            if not self.clock_example:
                self.clock_example = (
                    f"time_ns advanced {got_ms:.1f} ms over {frame.seq - last.seq} steps, "
                    f"which at {frame.sample_rate_hz:g} Hz take {want_ms:.1f} ms"
                )

    def _program(self, frame: SignalFrame, offset: int) -> None:
        program = self.expected.program
        action = frame.action.astype(np.int64)
        for code in program.unknown(action):
            self.outside_program[code] += int((action == code).sum())
        moving = {s.code: s.moving for s in program.steps}
        self.active_off += sum(
            1
            for a, m in zip(action.tolist(), frame.active.tolist(), strict=True)
            if a in moving and moving[a] != m
        )
        previous = np.concatenate([[self._last_action], action[:-1]])
        first = program.first_code
        inside = np.flatnonzero((action == first) & (previous != first) & (previous >= 0))
        counter_rule = program.cycle_start == "counter" or (
            program.cycle_start == "auto" and frame.cycle is not None
        )
        if counter_rule:
            self.starts += int(self._last_cycle is not None and frame.cycle != self._last_cycle)
        else:
            self.starts += len(inside)
        if len(inside) and inside[-1] > 0 and not counter_rule:
            self.spanning += 1
            if self.span_example < 0:
                self.span_example = offset
        self._last_action = int(action[-1])
        self._last_cycle = frame.cycle

    def findings(self) -> list[str]:
        """Problems, most important first; empty when the frames are as serve wants them."""
        e = self.expected
        out = [
            f"{n} frames serve would refuse ({kind}), the first at offset {self.first_refused[kind][0]}: "
            f"{self.first_refused[kind][1]}"
            for kind, n in self.refused.most_common()
        ]
        for list_id, n in self.lists.items():
            if list_id != e.list_id:
                named = NAMED_LISTS.get(list_id, "a list robotwatch does not know")
                out.append(
                    f"{n} frames carry signal list {list_id:#010x} ({named}); {e.source} expects "
                    f"{e.list_id:#010x} ({e.n_signals} signals, in its order: docs/signal-frames.md)"
                )
        if e.rate_hz is not None:
            for rate in self.rates:
                if rate < e.rate_hz or abs(rate / e.rate_hz - round(rate / e.rate_hz)) > 1e-6:
                    out.append(
                        f"frames say {rate:g} Hz; {e.source} works at {e.rate_hz:g} Hz, so frames must come "
                        f"at a whole multiple of it"
                    )
        if self.outside_program:
            codes = ", ".join(f"{c} ({n} steps)" for c, n in sorted(self.outside_program.items()))
            out.append(
                f"action codes that are no step of {e.program.name!r}: {codes}; such frames are refused"
            )
        if self.gaps:
            out.append(
                f"seq jumped {self.gaps} times ({self.lost_steps} steps lost, first at offset "
                f"{self.first_offset['gap']}): cycles with a gap are flagged"
            )
        if self.repeats:
            out.append(
                f"{self.repeats} frames repeat steps already sent (first at offset "
                f"{self.first_offset['repeat']}): fine after a retry, a bug if constant"
            )
        if self.resets:
            out.append(
                f"seq started again {self.resets} times (first at offset {self.first_offset['reset']}): "
                "expected after a controller reboot, never within a running controller"
            )
        if self.clock_off:
            out.append(
                f"the controller clock disagrees with seq in {self.clock_off} frames: {self.clock_example}"
            )
        if self.spanning:
            out.append(
                f"{self.spanning} frames hold the end of one cycle and the start of the next (first at "
                f"offset {self.span_example}): cut frames where a cycle starts (FrameWriter does)"
            )
        if self.active_off:
            out.append(f"{self.active_off} steps have `active` other than the program says for their step")
        return out

    def advice(self) -> list[str]:
        out = []
        if self.starts and not self.flagged:
            out.append(
                "no frame sets the cycle-start flag (bit 1): set it on a cycle's first frame, so that "
                "the first cycle after a restart is scored too"
            )
        if self.frames and not self.starts:
            program = self.expected.program
            out.append(
                f"no cycle start in {self.steps} steps: does the action ever enter the first step "
                f"({program.name_of(program.first_code)}, code {program.first_code}), or the cycle "
                "counter change?"
            )
        return out

    def summary(self) -> str:
        size = self.sizes.most_common(1)[0][0] if self.sizes else 0
        rate = self.rates.most_common(1)[0][0] if self.rates else 0
        return (
            f"{self.frames} frames, {self.steps} steps, typically {size} steps at {rate:g} Hz, "
            f"{self.starts} cycle starts"
        )


def _list_of(value: bytes) -> tuple[int, int]:
    """The signal list a frame says it carries (so any list decodes, and the check can name it)."""
    if bytes(value[:1]) == b"{":
        import json

        try:
            doc = json.loads(value)
            return int(doc["signal_list_id"]), len(doc["signals"][0])
        except (ValueError, KeyError, TypeError, IndexError):
            return 0, 0
    if len(value) < HEADER.size:
        return 0, 0
    fields = HEADER.unpack_from(value)
    return fields[6], fields[4]


def expectations(registry: ModelRegistry | None, program: Program = VORAUS_AD) -> Callable[[str], Expected]:
    """Per robot, what its model (resolved as serve would) expects; the defaults without one."""

    def of(robot: str) -> Expected:
        loaded = registry.resolve(robot) if registry is not None else None
        if loaded is None:
            return replace(DEFAULTS, program=program)
        card = loaded.model.card
        return Expected(
            f"its model {loaded.path.name} ({loaded.model_id})",
            loaded.list_id,
            len(card.signals),
            card.sample_rate_hz,
            card.program,
        )

    return of


@dataclass
class TopicCheck:
    robots: dict[str, FrameCheck] = field(default_factory=dict)
    without_key: int = 0  # refused by serve: the key is the robot id


async def check_topic(
    settings: ServeSettings,
    expected_for: Callable[[str], Expected],
    *,
    duration_s: float = 30.0,
    from_beginning: bool = False,
    robots: frozenset[str] | None = None,
) -> TopicCheck:
    """Read the signals topic for `duration_s` (no consumer group, nothing committed)."""
    result = TopicCheck()
    topic = settings.signals_topic
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **settings.kafka.client_options())
    try:
        await asyncio.wait_for(consumer.start(), settings.broker_timeout_s)
    except (KafkaError, TimeoutError, OSError) as exc:
        await consumer.stop()
        raise UserError(f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc}") from None
    try:
        assigned = await assign_all(consumer, topic, settings.broker_timeout_s)
        if from_beginning:
            await consumer.seek_to_beginning(*assigned)
        else:
            await consumer.seek_to_end(*assigned)
        deadline = time.monotonic() + duration_s
        while (left := deadline - time.monotonic()) > 0:
            batch = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000), max_records=5000)
            for messages in batch.values():
                for m in messages:
                    if not m.key:
                        result.without_key += robots is None  # no robot chosen: about the whole topic
                        continue
                    robot = bytes(m.key).decode(errors="replace")
                    if robots is not None and robot not in robots:
                        continue
                    if robot not in result.robots:
                        result.robots[robot] = FrameCheck(expected_for(robot))
                    result.robots[robot].take(m.value or b"", m.offset)
    finally:
        await consumer.stop()
    return result
