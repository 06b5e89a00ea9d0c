"""The verdict ids already taken for delivery, so that a repeat is never sent twice.

A verdict is repeated when serve scores a cycle again (after its restart or a rebalance) or a
file is replayed: same id, a later offset. The memory is bounded (the oldest ids go first)
and, after a restart of `alerts`, rebuilt from the records just before the committed offset
(robotwatch.alerts.service): everything before that offset was delivered or dead-lettered.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, verdict_id: str) -> bool:
        """Remember the id; False when it was already there (a repeat)."""
        if verdict_id in self._ids:
            self._ids.move_to_end(verdict_id)
            return False
        self._ids[verdict_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def forget(self, verdict_ids: list[str]) -> None:
        """Taken back (a partition moved before they were sent): the next read must send them."""
        for verdict_id in verdict_ids:
            self._ids.pop(verdict_id, None)

    def __contains__(self, verdict_id: object) -> bool:
        return verdict_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
