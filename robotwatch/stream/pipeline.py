"""The pipeline shared by `serve` and `replay`: decode -> per-robot assembly -> scoring ->
localization -> verdict. No Kafka here: `serve` wraps it in consumers and producers,
`replay` feeds it from a file in process."""

from __future__ import annotations

import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from robotwatch.mtsflow.localize import Event
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.score import CycleScore, Localize, Scorer
from robotwatch.stream.assembly import AssembledCycle, AssemblyLimits, RobotAssembler
from robotwatch.stream.signal_frame import SignalFrame, SignalFrameError, decode_any, signal_list_id
from robotwatch.stream.verdicts import (
    AxisShare,
    EventOut,
    SignalShare,
    Verdict,
    iso_ns,
    verdict_id,
)


@dataclass(frozen=True)
class PipelineSettings:
    localize: Localize = Localize.FLAGGED
    idle_close_s: float = 5.0  # a robot quiet this long: its open cycle closes as incomplete
    forget_s: float = 600.0  # a robot quiet this long (with nothing open) is forgotten
    reorder_frames: int = 8


@dataclass
class _Robot:
    assembler: RobotAssembler
    partition: int
    last_seen: float


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

    def decode(self, value: bytes) -> SignalFrame:
        """Binary or JSON frame in the model's signal list; SignalFrameError with the reason otherwise."""
        frame = decode_any(value, self.known_lists)
        divider = frame.sample_rate_hz / self.model.card.sample_rate_hz
        if divider < 1 or abs(divider - round(divider)) > 1e-6:
            raise SignalFrameError(
                f"sample rate {frame.sample_rate_hz:g} Hz cannot be brought to the model's "
                f"{self.model.card.sample_rate_hz:g} Hz by keeping every n-th step"
            )
        return frame

    def feed(
        self, robot: str, frame: SignalFrame, offset: int, partition: int = 0, now: float | None = None
    ) -> list[AssembledCycle]:
        now = time.monotonic() if now is None else now
        divider = round(frame.sample_rate_hz / self.model.card.sample_rate_hz)
        state = self.robots.get(robot)
        if state is None or state.assembler.limits.divider != divider:
            limits = AssemblyLimits(
                divider=divider,
                max_kept=self.model.card.padded_length,
                reorder_frames=self.settings.reorder_frames,
            )
            state = _Robot(RobotAssembler(robot, len(self.model.card.signals), limits), partition, now)
            self.robots[robot] = state
        state.last_seen, state.partition = now, partition
        closed = state.assembler.feed(frame, offset)
        for cycle in closed:
            cycle.closed_at = now
        return closed

    def close_idle(
        self, now: float | None = None, busy: AbstractSet[int] = frozenset()
    ) -> list[AssembledCycle]:
        """Close the cycles of robots gone quiet; forget robots quiet for long. Robots of
        `busy` partitions (unread messages waiting) are not quiet, just not read yet."""
        now = time.monotonic() if now is None else now
        closed: list[AssembledCycle] = []
        for robot, state in list(self.robots.items()):
            if state.partition in busy:
                continue
            quiet = now - state.last_seen
            if quiet >= self.settings.idle_close_s and state.assembler.anchor() is not None:
                for cycle in state.assembler.close_idle():
                    cycle.closed_at = now
                    closed.append(cycle)
            if quiet >= self.settings.forget_s and state.assembler.anchor() is None:
                del self.robots[robot]
        return closed

    def finish(self) -> list[AssembledCycle]:
        """End of a recorded stream: its last cycles are complete, not abandoned."""
        now = time.monotonic()
        closed = [c for state in self.robots.values() for c in state.assembler.close_idle(incomplete=False)]
        for cycle in closed:
            cycle.closed_at = now
        return closed

    def partition_of(self, robot: str) -> int | None:
        state = self.robots.get(robot)
        return None if state is None else state.partition

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
        """One verdict per cycle (CPU or GPU work: call it off the event loop)."""
        scorable = [c for c in cycles if len(c.signals) >= 2]
        results = self.scorer.score_cycles(
            [c.signals for c in scorable], [c.actions for c in scorable], localize=self.settings.localize
        )
        by_cycle = {id(c): r for c, r in zip(scorable, results, strict=True)}
        return [self._verdict(c, by_cycle.get(id(c))) for c in cycles]

    def _verdict(self, cycle: AssembledCycle, result: CycleScore | None) -> Verdict:
        card = self.model.card
        score = None if result is None else result.score
        return Verdict(
            verdict_id=verdict_id("robot", cycle.robot, cycle.start_seq, card.model_id),
            source="robot",
            robot_id=cycle.robot,
            cycle_id=str(cycle.counter if cycle.counter is not None else cycle.start_seq),
            start_seq=cycle.start_seq,
            end_seq=cycle.end_seq,
            start_time=iso_ns(cycle.start_time_ns),
            end_time=iso_ns(cycle.end_time_ns),
            n_steps=cycle.n_steps,
            sample_rate_hz=card.sample_rate_hz,
            score=score,
            threshold=card.threshold,
            anomalous=bool(result is not None and result.flagged),
            note=None
            if result is not None
            else f"{len(cycle.signals)} step(s) at the model's rate: too short to score",
            events=[_event(e) for e in (result.events if result is not None else ())],
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
        strength=round(event.strength, 3),
        top_signals=[SignalShare(signal=s, share=round(v, 4)) for s, v in event.top_signals],
        top_axes=[AxisShare(axis=a, share=round(v, 4)) for a, v in event.top_axes],
    )
