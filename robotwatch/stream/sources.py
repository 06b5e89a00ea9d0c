"""What `serve` reads: one Source per input kind (robot signals, camera frames), each turning
messages into work and work into verdicts, behind one contract the service loop relies on.

Every source MUST
- name its `topic` and a `kind` (a metric label: "signals", "camera");
- `take(tp, message)`: turn one consumed message into zero or more pieces of `Work`, or
  raise `Rejected` with a reason kind (the loop then dead-letters the message). Anything
  else it raises is a bug; the loop dead-letters the message as an internal error and the
  source must stay usable for every other message;
- `due(now, delivered)`: the work that time alone makes ready (a robot gone quiet), given
  per partition the time up to which the broker is known to have delivered everything;
- `score(work, events, score_cycles)`: one verdict per piece of work, in order, never raising
  for one bad piece (that piece gets an error verdict); it runs in a worker thread, off the
  event loop;
- `anchors()`: per partition, the smallest offset it still needs to rebuild what it holds
  open (the committer never commits past it);
- `revoke(partitions)`: forget whatever belongs to partitions this process lost.

Every source CAN
- make `take` await (decoding off the loop, as images are);
- report `muted(now)`: ids of producers that stream without their work ever coming out;
- ignore `score_cycles`, where MTS-Flow runs (serve's scoring processes), if it runs no MTS-Flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from robotwatch.mtsflow.score import Localize
from robotwatch.stream.assembled_cycle import AssembledCycle
from robotwatch.stream.pipeline import CyclePipeline
from robotwatch.stream.rejects import Rejected, RejectKind
from robotwatch.stream.verdict_making import ScoreCycles, in_this_process
from robotwatch.stream.verdicts import Verdict

MAX_KEY_BYTES = 256  # robot and cell ids: a longer key is not an id


@dataclass
class Work:
    """A closed cycle or a decoded camera frame on its way to its verdict."""

    payload: Any
    tp: TopicPartition
    anchor: int  # held in the committer until the verdict is acknowledged
    start_offset: int | None  # a cycle's start frame (committer rule 4); None for a frame
    started: float  # monotonic: the verdict latency counts from here


class Source(Protocol):
    topic: str
    kind: str

    async def take(self, tp: TopicPartition, message: ConsumerRecord) -> list[Work]: ...

    def due(self, now: float, delivered: Mapping[int, float]) -> list[Work]: ...

    def score(
        self, work: Sequence[Work], events: bool = True, score_cycles: ScoreCycles = in_this_process
    ) -> list[Verdict]:
        """One verdict per piece of work; `events` False: without localization (serve adds
        the events of flagged cycles in a second pass, robotwatch.stream.scoring)."""
        ...

    def anchors(self) -> dict[TopicPartition, int]: ...

    def revoke(self, partitions: set[TopicPartition]) -> None: ...

    def muted(self, now: float) -> list[str]: ...


def message_key(message: ConsumerRecord, what: str) -> str:
    """The id a message's key carries; a Rejected when there is none or it cannot be one."""
    key = message.key
    if not key:
        raise Rejected(RejectKind.NO_KEY, f"no {what} id: the message key must be the {what} id")
    if len(key) > MAX_KEY_BYTES:
        raise Rejected(
            RejectKind.NO_KEY, f"a key of {len(key)} bytes is no {what} id (at most {MAX_KEY_BYTES})"
        )
    return bytes(key).decode(errors="replace")


class SignalSource:
    """Robot signal frames: decode, assemble per robot, score closed cycles."""

    kind = "signals"

    def __init__(self, topic: str, pipeline: CyclePipeline, mute_s: float) -> None:
        self.topic = topic
        self.pipeline = pipeline
        self.mute_s = mute_s

    def _work(self, cycles: list[AssembledCycle]) -> list[Work]:
        return [
            Work(c, TopicPartition(self.topic, c.partition), c.anchor, c.start_offset, c.closed_at)
            for c in cycles
        ]

    async def take(self, tp: TopicPartition, message: ConsumerRecord) -> list[Work]:
        robot = message_key(message, "robot")
        return self._work(self.pipeline.take(robot, message.value or b"", message.offset, tp.partition))

    def due(self, now: float, delivered: Mapping[int, float]) -> list[Work]:
        return self._work(self.pipeline.close_idle(now, delivered))

    def score(
        self, work: Sequence[Work], events: bool = True, score_cycles: ScoreCycles = in_this_process
    ) -> list[Verdict]:
        cycles = [w.payload for w in work]
        return self.pipeline.score(cycles, None if events else Localize.NONE, score_cycles)

    def anchors(self) -> dict[TopicPartition, int]:
        return {TopicPartition(self.topic, p): a for p, a in self.pipeline.anchors().items()}

    def revoke(self, partitions: set[TopicPartition]) -> None:
        self.pipeline.drop_partitions({tp.partition for tp in partitions if tp.topic == self.topic})

    def muted(self, now: float) -> list[str]:
        return self.pipeline.muted(now, self.mute_s)
