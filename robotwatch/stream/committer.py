"""Which offsets are committed, and when (docs/architecture.md §6).

The rules, per partition of the input topics:

1. Every message read moves `next_offset` past it; nothing is committed automatically.
2. Work taken from a message (a closed cycle, a camera frame, a dead letter) *holds* an
   offset: a cycle holds its anchor, the smallest offset needed to rebuild it; a frame or
   a dead letter holds its own. The hold is released only when the broker has
   acknowledged what the work produced (acks=all), or when it is given up for good.
3. Cycles still being assembled hold their anchors too (they are asked for at commit time).
4. The safe offset is the smallest of: the holds, the open anchors, `next_offset`.
   Everything before it has its verdict or dead letter safely on the broker. A delivered
   cycle whose frames came partly before the frame its start was seen in leaves a *span*
   (anchor, start frame]: a commit inside it is lowered to the anchor, because a re-read
   from there would see the cycle start without all its frames and build another one.
5. A commit sends the safe offsets that moved forward, with a timeout; a failed commit is
   retried at the next tick, and what was committed before stays valid.
6. On revocation the caller first flushes what is in flight, then commits the revoked
   partitions' safe offsets, then forgets them (holds included): the new owner re-reads
   from there and rebuilds the same cycles.
7. A partition whose safe offset has not moved for `stall_s` while it has unread-or-unsafe
   messages is *stalled*: health says so.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass
class Committer:
    next_offset: dict[TopicPartition, int] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    last_advance: dict[TopicPartition, float] = field(default_factory=dict)  # monotonic
    _held: dict[int, tuple[TopicPartition, int]] = field(default_factory=dict)
    _spans: dict[TopicPartition, list[tuple[int, int]]] = field(default_factory=dict)
    _tokens: itertools.count = field(default_factory=itertools.count)

    def consumed(self, tp: TopicPartition, offset: int) -> None:
        """Rule 1."""
        self.next_offset[tp] = max(offset + 1, self.next_offset.get(tp, 0))
        self.last_advance.setdefault(tp, time.monotonic())

    def hold(self, tp: TopicPartition, offset: int) -> int:
        """Rule 2: keep the commit at or before `offset` until `release(token)`."""
        token = next(self._tokens)
        self._held[token] = (tp, offset)
        return token

    def release(self, token: int, start_offset: int | None = None) -> None:
        """The work's output is safe; for a cycle, `start_offset` is the frame its start was
        seen in (a span remains where that frame lies past the hold)."""
        held = self._held.pop(token, None)
        if held is not None and start_offset is not None and start_offset > held[1]:
            self._spans.setdefault(held[0], []).append((held[1], start_offset))

    def in_flight(self) -> int:
        return len(self._held)

    def safe(self, tp: TopicPartition, open_anchor: int | None) -> int | None:
        """Rule 4: the offset to commit for `tp`, or None if nothing was read from it yet."""
        if tp not in self.next_offset:
            return None
        candidates = [self.next_offset[tp]]
        if open_anchor is not None:
            candidates.append(open_anchor)
        candidates += [offset for held_tp, offset in self._held.values() if held_tp == tp]
        safe = min(candidates)
        lowered = True
        while lowered:  # each lowering lands on an anchor, which may lie inside another span
            lowered = False
            for anchor, start in self._spans.get(tp, ()):
                if anchor < safe <= start:
                    safe, lowered = anchor, True
        return safe

    def to_commit(self, anchors: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The safe offsets that moved forward since the last commit."""
        out = {}
        for tp in self.next_offset:
            safe = self.safe(tp, anchors.get(tp))
            if safe is not None and safe > self.committed.get(tp, -1):
                out[tp] = safe
        return out

    async def commit(
        self,
        consumer: AIOKafkaConsumer,
        anchors: Mapping[TopicPartition, int],
        timeout_s: float,
        partitions: set[TopicPartition] | None = None,
    ) -> bool:
        """Rule 5: commit what moved, of the assigned `partitions` (default all); True if
        something was committed. Raises the broker's error or TimeoutError; never waits longer."""
        assigned = consumer.assignment()
        offsets = {
            tp: o
            for tp, o in self.to_commit(anchors).items()
            if tp in assigned and (partitions is None or tp in partitions)
        }
        if not offsets:
            return False
        await asyncio.wait_for(consumer.commit(offsets), timeout_s)
        self.committed_now(offsets)
        return True

    def committed_now(self, offsets: Mapping[TopicPartition, int]) -> None:
        now = time.monotonic()
        for tp, offset in offsets.items():
            self.committed[tp] = offset
            self.last_advance[tp] = now
            # Spans the commit point has passed can no longer hold it back.
            self._spans[tp] = [(a, s) for a, s in self._spans.get(tp, ()) if s >= offset]

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Rule 6: partitions revoked, their bookkeeping goes with them."""
        for tp in partitions:
            self.next_offset.pop(tp, None)
            self.committed.pop(tp, None)
            self.last_advance.pop(tp, None)
            self._spans.pop(tp, None)
        for token in [t for t, (tp, _) in self._held.items() if tp in partitions]:
            del self._held[token]

    def stalled(self, stall_s: float, now: float | None = None) -> list[TopicPartition]:
        """Rule 7: partitions with messages past the commit point and no progress for `stall_s`."""
        now = time.monotonic() if now is None else now
        return [
            tp
            for tp, next_offset in self.next_offset.items()
            if next_offset > self.committed.get(tp, -1) and now - self.last_advance.get(tp, now) > stall_s
        ]
