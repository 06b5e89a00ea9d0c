"""The pipeline shared by `serve` and `replay`: per robot, its model from the registry ->
decode its frames against that model -> assemble -> (robotwatch.stream.verdict_making) score
and localize -> verdict. No Kafka here: `serve` wraps it in consumers and producers, `replay`
feeds it from a file in process.

Every cycle that closes gets exactly one verdict (docs/architecture.md §3), scored by the
model that was current for its robot when it closed. One robot's trouble stays that robot's:
a failure while closing its cycles abandons its open cycle, with an error verdict, and never
reaches the others; frames that do not fit a robot's model are counted and reported once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from robotwatch.fleet.registry import LoadedModel, ModelRegistry
from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.score import Localize
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.assembly import AssemblyLimits, RobotAssembler
from robotwatch.stream.rejects import Rejected, RejectKind
from robotwatch.stream.signal_frame import SignalFrame, decode_any
from robotwatch.stream.verdict_making import ScoreCycles, in_this_process, verdicts_for
from robotwatch.stream.verdicts import Verdict

log = logging.getLogger("robotwatch.pipeline")
PROBLEM_WINDOW_S = 60.0  # a robot's mismatch shows in health this long after its last frame


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
    model: LoadedModel  # the model its open cycle is assembled for
    partition: int
    last_seen: float
    last_closed: float  # when a cycle of it last closed (or it was first seen)


@dataclass
class CyclePipeline:
    models: ModelRegistry
    settings: PipelineSettings = field(default_factory=PipelineSettings)

    def __post_init__(self) -> None:
        self.robots: dict[str, _Robot] = {}
        self.problems: dict[str, tuple[float, str]] = {}  # robot -> (when, what does not fit)

    @classmethod
    def of(
        cls, model: TrainedModel, settings: PipelineSettings | None = None, device: str = "auto"
    ) -> CyclePipeline:
        """One model for every robot."""
        return cls(ModelRegistry.single(model, device), settings or PipelineSettings())

    # -- frames in --------------------------------------------------------------------------
    def take(
        self, robot: str, value: bytes, offset: int, partition: int = 0, now: float | None = None
    ) -> list[AssembledCycle]:
        """One message of `robot`: decoded against its model, assembled; a Rejected says why not."""
        model = self._model_of(robot)
        try:
            frame = decode_any(value, {model.list_id: len(model.model.card.signals)})
        except Rejected as refused:
            if refused.kind is RejectKind.UNKNOWN_SIGNAL_LIST:
                self._problem(robot, model, f"its frames carry another signal list ({refused})")
                raise Rejected(RejectKind.MODEL_MISMATCH, str(refused)) from None
            raise
        return self.feed(robot, frame, offset, partition, now)

    def feed(
        self, robot: str, frame: SignalFrame, offset: int, partition: int = 0, now: float | None = None
    ) -> list[AssembledCycle]:
        now = time.monotonic() if now is None else now
        model = self._model_of(robot)
        card = model.model.card
        divider = frame.sample_rate_hz / card.sample_rate_hz
        if divider < 1 or abs(divider - round(divider)) > 1e-6:
            text = f"frames at {frame.sample_rate_hz:g} Hz cannot be brought to {card.sample_rate_hz:g} Hz"
            self._problem(robot, model, text)
            raise Rejected(RejectKind.MODEL_MISMATCH, text)
        outside = card.program.unknown(frame.action)
        if outside:
            text = f"action code(s) {outside} are no step of the program {card.program.name!r}"
            self._problem(robot, model, text)
            raise Rejected(RejectKind.OUT_OF_PROGRAM, f"robot {robot!r}: {text}")
        state = self.robots.get(robot)
        closed: list[AssembledCycle] = []
        if state is not None and (
            state.assembler.limits.divider != round(divider) or not model.assembles_like(state.model)
        ):
            # A new rate, or a model swapped in with other signals or another program: what it
            # had open closes here, flagged, and is scored by the model it was assembled for.
            closed = self._stamped(state.assembler.close_idle(), state, now)
            state = None
        elif state is not None and model is not state.model:
            # A retrained model of the same kind: the open cycle goes on, and the model current
            # when it closes scores it.
            state.assembler.limits = replace(state.assembler.limits, max_kept=card.padded_length)
        if state is None:
            if robot not in self.robots and len(self.robots) >= self.settings.max_robots:
                raise Rejected(
                    RejectKind.ROBOT_LIMIT,
                    f"robot {robot!r}: over the limit of {self.settings.max_robots} robots",
                )
            state = _Robot(self._assembler(robot, model, round(divider)), model, partition, now, now)
            self.robots[robot] = state
        state.model, state.last_seen, state.partition = model, now, partition
        closed += self._stamped(state.assembler.feed(frame, offset), state, now)
        if closed:
            state.last_closed = now
        return closed

    def _model_of(self, robot: str) -> LoadedModel:
        model = self.models.resolve(robot)
        if model is None:
            raise Rejected(
                RejectKind.NO_MODEL, f"robot {robot!r}: no model in the registry matches it", robot
            )
        return model

    def _problem(self, robot: str, model: LoadedModel, text: str) -> None:
        """A robot whose frames do not fit its model: logged once, shown in health a while."""
        if robot not in self.problems:
            if len(self.problems) >= self.settings.max_robots:
                return
            card = model.model.card
            log.warning("robot %s: %s; its model %s expects %d signals (%s, ...) at %g Hz, program %r",
                        robot, text, model.model_id, len(card.signals), card.signals[0],
                        card.sample_rate_hz, card.program.name)  # fmt: skip
        self.problems[robot] = (time.monotonic(), text)

    def recent_problems(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        for robot in [r for r, (t, _) in self.problems.items() if now - t > PROBLEM_WINDOW_S]:
            del self.problems[robot]
        return [f"{robot}: {text}" for robot, (_, text) in sorted(self.problems.items())]

    def _assembler(self, robot: str, model: LoadedModel, divider: int) -> RobotAssembler:
        card = model.model.card
        limits = AssemblyLimits(
            divider=divider,
            max_kept=card.padded_length,
            reorder_frames=self.settings.reorder_frames,
            idle_close_ns=round(self.settings.idle_close_s * 1e9),
            first_code=card.program.first_code,
            start_rule=card.program.cycle_start,
        )
        return RobotAssembler(robot, len(card.signals), limits)

    @staticmethod
    def _stamped(cycles: list[AssembledCycle], state: _Robot, now: float) -> list[AssembledCycle]:
        for cycle in cycles:
            cycle.partition, cycle.closed_at, cycle.model = state.partition, now, state.model
        return cycles

    # -- time -------------------------------------------------------------------------------
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
                closed += self._stamped(self._close_quiet(state.assembler), state, now)
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
            for c in self._stamped(state.assembler.close_idle(incomplete=False), state, now)
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

    # -- cycles out -------------------------------------------------------------------------
    def score(
        self,
        cycles: Sequence[AssembledCycle],
        localize: Localize | None = None,
        score_cycles: ScoreCycles = in_this_process,
    ) -> list[Verdict]:
        """One verdict per cycle, by the model it closed under (CPU or GPU work: off the loop);
        events for the cycles `localize` names (default: the pipeline's setting)."""
        return verdicts_for(cycles, self.settings.localize if localize is None else localize, score_cycles)
