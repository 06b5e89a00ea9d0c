"""Which offset is safe to commit, per partition (docs/architecture.md §6).

Safe = the smallest of: the anchor of any cycle still open, the anchor of any cycle or
message whose output the broker has not yet acknowledged, and the next offset to read.
Everything before it has a verdict (or a dead letter) that the broker holds.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass
class OffsetTracker:
    next_offset: dict[TopicPartition, int] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    _held: dict[int, tuple[TopicPartition, int]] = field(default_factory=dict)
    _tokens: itertools.count = field(default_factory=itertools.count)

    def consumed(self, tp: TopicPartition, offset: int) -> None:
        self.next_offset[tp] = max(offset + 1, self.next_offset.get(tp, 0))

    def hold(self, tp: TopicPartition, offset: int) -> int:
        """Keep the commit at or before `offset` until `release(token)`."""
        token = next(self._tokens)
        self._held[token] = (tp, offset)
        return token

    def release(self, token: int) -> None:
        self._held.pop(token, None)

    def in_flight(self) -> int:
        return len(self._held)

    def safe(self, tp: TopicPartition, open_anchor: int | None) -> int | None:
        """The offset to commit for `tp`, or None if nothing was read from it yet."""
        if tp not in self.next_offset:
            return None
        candidates = [self.next_offset[tp]]
        if open_anchor is not None:
            candidates.append(open_anchor)
        candidates += [offset for held_tp, offset in self._held.values() if held_tp == tp]
        return min(candidates)

    def to_commit(self, anchors: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The safe offsets that moved forward since the last commit."""
        out = {}
        for tp in self.next_offset:
            safe = self.safe(tp, anchors.get(tp))
            if safe is not None and safe > self.committed.get(tp, -1):
                out[tp] = safe
        return out

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Partitions revoked: their bookkeeping goes with them."""
        for tp in partitions:
            self.next_offset.pop(tp, None)
            self.committed.pop(tp, None)
        for token in [t for t, (tp, _) in self._held.items() if tp in partitions]:
            del self._held[token]


async def commit_safe(
    consumer: AIOKafkaConsumer,
    tracker: OffsetTracker,
    anchors: dict[TopicPartition, int],
    partitions: set[TopicPartition] | None,
    timeout_s: float,
) -> bool:
    """Commit the safe offsets that moved, of the assigned `partitions` (default all); True if
    something was committed. Raises the broker's error or TimeoutError; never waits longer."""
    assigned = consumer.assignment()
    offsets = {
        tp: o
        for tp, o in tracker.to_commit(anchors).items()
        if tp in assigned and (partitions is None or tp in partitions)
    }
    if not offsets:
        return False
    await asyncio.wait_for(consumer.commit(offsets), timeout_s)
    tracker.committed.update(offsets)
    return True
