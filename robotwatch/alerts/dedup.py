"""The verdict ids already taken for delivery, so that a repeat is never sent twice.

A verdict is repeated when serve scores a cycle again (after its restart or a rebalance) or a
file is replayed: same id, a later offset. The memory is bounded (the oldest ids go first)
and, when a partition is assigned (after a restart of `alerts`, or a rebalance), rebuilt
from the records just before its committed offset: everything before that offset was
delivered, suppressed or dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from robotwatch.alerts.facts import alert_kind
from robotwatch.alerts.settings import AlertSettings
from robotwatch.stream.clients import stop_quietly
from robotwatch.stream.verdicts import Verdict

log = logging.getLogger("robotwatch.alerts")
MIN_LOOKBACK_S = 30.0


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


async def remembered_ids(settings: AlertSettings, ends: dict[TopicPartition, int]) -> list[str]:
    """The ids of the alerts among the `dedup_lookback` records before each partition's commit
    point (`ends`), read by a consumer of its own that belongs to no group. Bounded in time:
    what is not read by then is logged, and its repeats may be sent again."""
    s = settings
    reader = AIOKafkaConsumer(
        enable_auto_commit=False,
        request_timeout_ms=int(s.broker_timeout_s * 3000),
        **s.kafka.client_options(),
    )
    ids: list[str] = []
    await asyncio.wait_for(reader.start(), s.broker_timeout_s)
    try:
        reader.assign(list(ends))
        begins = await asyncio.wait_for(reader.beginning_offsets(list(ends)), s.broker_timeout_s)
        left: dict[TopicPartition, int] = {}
        for tp, end in ends.items():
            first = max(begins.get(tp, 0), end - s.dedup_lookback)
            if first < end:
                reader.seek(tp, first)
                left[tp] = end
        deadline = time.monotonic() + max(MIN_LOOKBACK_S, s.broker_timeout_s)
        while left and time.monotonic() < deadline:
            batch = await reader.getmany(*left, timeout_ms=200, max_records=5000)
            for tp, records in batch.items():
                ids += [i for r in records if r.offset < left.get(tp, -1) and (i := _alert_id(r.value))]
            for tp in list(left):  # a compacted topic may lack the last offsets: ask the position
                if await asyncio.wait_for(reader.position(tp), s.broker_timeout_s) >= left[tp]:
                    del left[tp]
        if left:
            log.warning(
                "ids before the commit point not all read in time (%s): repeats may be sent", sorted(left)
            )
    finally:
        await stop_quietly(reader.stop())
    return ids


def _alert_id(value: bytes | None) -> str | None:
    try:
        verdict = Verdict.model_validate_json(value or b"")
    except ValidationError:
        return None
    return verdict.verdict_id if alert_kind(verdict) is not None else None
