"""The pipeline shared by `serve` and `replay`: decode -> per-robot assembly -> scoring ->
localization -> verdict. No Kafka here: `serve` wraps it in consumers and producers,
`replay` feeds it from a file in process.

Every cycle that closes gets exactly one verdict (docs/architecture.md §3): a cycle that
cannot be assembled or scored gets one with status "error" and the reason. One robot's
trouble stays that robot's: a failure while closing its cycles abandons its open cycle,
with an error verdict, and never reaches the others.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from robotwatch.mtsflow.localize import Event
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.score import CycleScore, Localize, Scorer
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from robotwatch.stream.rejects import Rejected, RejectKind
from robotwatch.stream.signal_frame import SignalFrame, decode_any, signal_list_id
from robotwatch.stream.verdicts import AxisShare, EventOut, SignalShare, Verdict, iso_ns, verdict_id

log = logging.getLogger("robotwatch.pipeline")


@dataclass(frozen=True)
class PipelineSettings:
    localize: Localize = Localize.FLAGGED
    idle_close_s: float = 5.0  # a robot quiet this long: its open cycle closes as incomplete
    forget_s: float = 600.0  # a robot quiet this long (with nothing open) is forgotten
    reorder_frames: int = 8
    max_robots: int = 1000  # robot ids come from untrusted message keys: state stays bounded


@dataclass
class _Robot:
    assembler: RobotAssembler
    partition: int
    last_seen: float
    last_closed: float  # when a cycle of it last closed (or it was first seen)


@dataclass
class CyclePipeline:
    model: TrainedModel
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    device: str = "auto"

    def __post_init__(self) -> None:
        self.scorer = Scorer(self.model, device=self.device)
        card = self.model.card
        self.known_lists = {signal_list_id(card.signals): len(card.signals)}
        self.robots: dict[str, _Robot] = {}
        self.refused_robots = 0  # frames of robots over the limit

    def decode(self, value: bytes) -> SignalFrame:
        """Binary or JSON frame in the model's signal list; a Rejected with the reason otherwise."""
        frame = decode_any(value, self.known_lists)
        divider = frame.sample_rate_hz / self.model.card.sample_rate_hz
        if divider < 1 or abs(divider - round(divider)) > 1e-6:
            raise Rejected(
                RejectKind.RATE_MISMATCH,
                f"sample rate {frame.sample_rate_hz:g} Hz cannot be brought to the model's "
                f"{self.model.card.sample_rate_hz:g} Hz by keeping every n-th step",
            )
        return frame

    def feed(
        self, robot: str, frame: SignalFrame, offset: int, partition: int = 0, now: float | None = None
    ) -> list[AssembledCycle]:
        now = time.monotonic() if now is None else now
        divider = round(frame.sample_rate_hz / self.model.card.sample_rate_hz)
        state = self.robots.get(robot)
        closed: list[AssembledCycle] = []
        if state is not None and state.assembler.limits.divider != divider:
            # The robot changed its rate: what it had open closes here, flagged, and is scored.
            closed = state.assembler.close_idle()
            state = None
        if state is None:
            if robot not in self.robots and len(self.robots) >= self.settings.max_robots:
                self.refused_robots += 1
                raise Rejected(
                    RejectKind.ROBOT_LIMIT,
                    f"robot {robot!r}: over the limit of {self.settings.max_robots} robots",
                )
            state = _Robot(self._assembler(robot, divider), partition, now, now)
            self.robots[robot] = state
        state.last_seen, state.partition = now, partition
        closed += state.assembler.feed(frame, offset)
        if closed:
            state.last_closed = now
        return self._stamped(closed, partition, now)

    def _assembler(self, robot: str, divider: int) -> RobotAssembler:
        limits = AssemblyLimits(
            divider=divider,
            max_kept=self.model.card.padded_length,
            reorder_frames=self.settings.reorder_frames,
            idle_close_ns=round(self.settings.idle_close_s * 1e9),
        )
        return RobotAssembler(robot, len(self.model.card.signals), limits)

    @staticmethod
    def _stamped(cycles: list[AssembledCycle], partition: int, now: float) -> list[AssembledCycle]:
        for cycle in cycles:
            cycle.partition, cycle.closed_at = partition, now
        return cycles

    def close_idle(
        self, now: float | None = None, delivered: Mapping[int, float] | None = None
    ) -> list[AssembledCycle]:
        """Close the cycles of robots gone quiet; forget robots quiet for long.

        A robot is quiet when nothing came from it for `idle_close_s` *and* its partition is
        known to have delivered everything up to that point: `delivered` maps a partition to
        the time (this clock) of the last fetch that found it caught up. During a broker
        outage nothing is delivered, so no cycle is cut short by it. Without `delivered`
        (a file, in process) the clock alone decides.
        """
        now = time.monotonic() if now is None else now
        closed: list[AssembledCycle] = []
        for robot, state in list(self.robots.items()):
            quiet_since = state.last_seen + self.settings.idle_close_s
            caught_up = delivered is None or delivered.get(state.partition, -math.inf) >= quiet_since
            if now >= quiet_since and caught_up and state.assembler.anchor() is not None:
                closed += self._stamped(self._close_quiet(state.assembler), state.partition, now)
            if now - state.last_seen >= self.settings.forget_s and state.assembler.anchor() is None:
                del self.robots[robot]
        return closed

    @staticmethod
    def _close_quiet(assembler: RobotAssembler) -> list[AssembledCycle]:
        try:
            return assembler.close_idle()
        except Exception as exc:
            log.exception("robot %s: closing its cycle failed; it starts afresh", assembler.robot)
            return assembler.abandon(f"assembly failed: {type(exc).__name__}: {exc}")

    def finish(self) -> list[AssembledCycle]:
        """End of a recorded stream: its last cycles are complete, not abandoned."""
        now = time.monotonic()
        return [
            c
            for state in self.robots.values()
            for c in self._stamped(state.assembler.close_idle(incomplete=False), state.partition, now)
        ]

    def muted(self, now: float, mute_s: float) -> list[str]:
        """Robots still streaming that have closed no cycle for `mute_s`: their frames are
        being dropped (never a cycle start seen, or every step a repeat)."""
        return sorted(
            robot
            for robot, s in self.robots.items()
            if now - s.last_seen < self.settings.idle_close_s and now - s.last_closed > mute_s
        )

    def anchors(self) -> dict[int, int]:
        """Per partition, the smallest offset still needed to rebuild open cycles."""
        out: dict[int, int] = {}
        for state in self.robots.values():
            anchor = state.assembler.anchor()
            if anchor is not None:
                out[state.partition] = min(anchor, out.get(state.partition, anchor))
        return out

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget the robots of partitions this process no longer owns."""
        for robot in [r for r, s in self.robots.items() if s.partition in partitions]:
            del self.robots[robot]

    def score(self, cycles: Sequence[AssembledCycle]) -> list[Verdict]:
        """One verdict per cycle (CPU or GPU work: call it off the event loop). If scoring the
        batch fails, each cycle is scored alone, so one bad cycle costs only its own verdict."""
        scorable = [c for c in cycles if c.error is None and len(c.signals) >= 2]
        results: dict[int, CycleScore | str] = {}
        try:
            results = dict(zip(map(id, scorable), self._score(scorable), strict=True))
        except Exception as exc:
            log.warning(
                "scoring a batch of %d failed (%r); scoring its cycles one by one", len(scorable), exc
            )
            for cycle in scorable:
                try:
                    results[id(cycle)] = self._score([cycle])[0]
                except Exception as alone:
                    log.exception("robot %s: scoring cycle %d failed", cycle.robot, cycle.start_seq)
                    results[id(cycle)] = f"scoring failed: {type(alone).__name__}: {alone}"
        return [self._verdict(c, results.get(id(c))) for c in cycles]

    def _score(self, cycles: Sequence[AssembledCycle]) -> list[CycleScore]:
        return self.scorer.score_cycles(
            [c.signals for c in cycles], [c.actions for c in cycles], localize=self.settings.localize
        )

    def _verdict(self, cycle: AssembledCycle, result: CycleScore | str | None) -> Verdict:
        card = self.model.card
        error = cycle.error or (result if isinstance(result, str) else None)
        scored = result if isinstance(result, CycleScore) else None
        note = None
        if scored is None and error is None:
            note = f"{len(cycle.signals)} step(s) at the model's rate: too short to score"
        elif scored is not None and not math.isfinite(scored.score):
            note = "the score is not finite (the flow overflowed): the strongest sign of an anomaly"
        return Verdict(
            verdict_id=verdict_id(
                "robot", cycle.robot, f"{cycle.start_seq}@{cycle.start_time_ns}", card.model_id
            ),
            source="robot",
            robot_id=cycle.robot,
            cycle_id=str(cycle.counter if cycle.counter is not None else cycle.start_seq),
            start_seq=cycle.start_seq,
            end_seq=cycle.end_seq,
            start_time=iso_ns(cycle.start_time_ns),
            end_time=iso_ns(cycle.end_time_ns),
            n_steps=cycle.n_steps,
            sample_rate_hz=card.sample_rate_hz,
            score=scored.score if scored is not None and math.isfinite(scored.score) else None,
            threshold=card.threshold,
            anomalous=bool(scored is not None and scored.flagged),
            status="error" if error else "ok",
            error=error,
            note=note,
            events=[_event(e) for e in (scored.events if scored is not None else ())],
            flags=cycle.flags(),
            model_id=card.model_id,
            processing_latency_ms=round(1000 * (time.monotonic() - cycle.closed_at), 3)
            if cycle.closed_at
            else 0.0,
        )


def _event(event: Event) -> EventOut:
    return EventOut(
        time_s=round(event.time_s, 4),
        action=event.action,
        strength=round(event.strength, 3) if np.isfinite(event.strength) else 0.0,
        top_signals=[SignalShare(signal=s, share=round(v, 4)) for s, v in event.top_signals],
        top_axes=[AxisShare(axis=a, share=round(v, 4)) for a, v in event.top_axes],
    )
