"""Sending to Kafka with acks=all, a timeout on every call and retries that never drop a message.

Each message may hold commit positions (tokens of the OffsetTracker); they are released
only once the broker has acknowledged it, so a commit never passes an unsent verdict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from robotwatch.stream.metrics import Health, ServiceMetrics
from robotwatch.stream.offsets import OffsetTracker

log = logging.getLogger("robotwatch.delivery")


@dataclass
class Outbox:
    producer: AIOKafkaProducer
    tracker: OffsetTracker
    metrics: ServiceMetrics
    health: Health
    timeout_s: float
    _tasks: set[asyncio.Task] = field(default_factory=set)

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        tokens: Sequence[int] = (),
        headers: list[tuple[str, bytes]] | None = None,
        on_ack: Callable[[], None] | None = None,
    ) -> None:
        """Queue one message; it is retried until acknowledged or the service stops."""
        task = asyncio.create_task(self._deliver(topic, key, value, tokens, headers, on_ack))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        tokens: Sequence[int],
        headers: list[tuple[str, bytes]] | None,
        on_ack: Callable[[], None] | None,
    ) -> None:
        backoff = 0.2
        while True:
            try:
                ack = await asyncio.wait_for(
                    self.producer.send(topic, value=value, key=key, headers=headers), self.timeout_s
                )
                await asyncio.wait_for(ack, self.timeout_s)
            except (KafkaError, TimeoutError) as exc:
                self.metrics.broker_errors.labels("send").inc()
                self.metrics.broker_up.set(0)
                self.health.broker(False, f"send to {topic}: {type(exc).__name__}: {exc}")
                log.warning("send to %s failed, retrying in %.1f s: %s", topic, backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.metrics.broker_up.set(1)
            self.health.broker(True)
            for token in tokens:
                self.tracker.release(token)
            if on_ack is not None:
                on_ack()
            return

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued message is acknowledged (True) or the time is up (False)."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        return not pending

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
