"""Sending to Kafka with acks=all: one sender, a timeout on every call, retries that never
block what comes after, and no message that can stop a partition's commits.

Each outgoing message may hold commit positions (Committer tokens); they are released only
once the broker has acknowledged it (docs/architecture.md §6). A message the broker can
never take as it is (too large, an invalid topic) is *permanent*: a dead letter is then
sent again in its fallback form (truncated, with its source reference), and if even that
cannot be sent it is counted, logged once, and its positions released; a verdict is never
given up, it keeps being retried at the longest backoff while health says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from robotwatch.stream.committer import Committer
from robotwatch.stream.metrics import ServiceMetrics

log = logging.getLogger("robotwatch.delivery")

# The broker (or the client, before sending) can never take this message as it is.
PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError)
MAX_BACKOFF_S = 5.0


@dataclass
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    tokens: list[tuple[int, int | None]] = field(default_factory=list)  # (token, cycle start offset)
    on_ack: Callable[[], None] | None = None
    # What to send instead when this can never be sent (a dead letter's truncated copy);
    # None: nothing can replace it.
    fallback: Callable[[], Outgoing | None] | None = None
    attempts: int = 0


@dataclass
class DeliveryState:
    """What health reads: is the broker taking our messages, and what cannot be delivered."""

    last_ok: float = 0.0  # monotonic time of the last acknowledgement
    failing: dict[str, str] = field(default_factory=dict)  # topic -> why its sends fail now
    skipped: int = 0  # dead letters given up for good


class Outbox:
    def __init__(
        self, producer: AIOKafkaProducer, committer: Committer, metrics: ServiceMetrics, timeout_s: float
    ) -> None:
        self.producer = producer
        self.committer = committer
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.state = DeliveryState()
        self._queue: deque[Outgoing] = deque()
        self._waiting = 0  # retries scheduled, and sends awaiting their acknowledgement
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._logged: set[tuple[str, str]] = set()

    def send(self, message: Outgoing) -> None:
        """Queue one message; never blocks (the consumer pauses when the backlog grows)."""
        self._queue.append(message)
        self._idle.clear()
        self._wake.set()

    def backlog(self) -> int:
        return len(self._queue) + self._waiting

    async def run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            message = self._queue.popleft()
            self._waiting += 1
            try:
                ack = await asyncio.wait_for(
                    self.producer.send(
                        message.topic, value=message.value, key=message.key, headers=message.headers
                    ),
                    self.timeout_s,
                )
            except asyncio.CancelledError:
                self._waiting -= 1
                self._queue.appendleft(message)
                raise
            except (KafkaError, TimeoutError) as exc:
                self._failed(message, exc)
                continue
            ack.add_done_callback(lambda future, m=message: self._settled(m, future))

    def _settled(self, message: Outgoing, future: asyncio.Future) -> None:
        if future.cancelled():
            self._failed(message, TimeoutError("send cancelled"))
            return
        exc = future.exception()
        if exc is not None:
            self._failed(message, exc)
            return
        self._waiting -= 1
        self.state.last_ok = time.monotonic()
        self.state.failing.pop(message.topic, None)
        self.metrics.broker_up.set(1)
        for token, start_offset in message.tokens:
            self.committer.release(token, start_offset)
        if message.on_ack is not None:
            message.on_ack()
        self._check_idle()

    def _failed(self, message: Outgoing, exc: BaseException) -> None:
        self._waiting -= 1
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, PERMANENT):
            if message.fallback is not None:
                replacement = message.fallback()
                if replacement is not None:
                    replacement.tokens = message.tokens
                    self.send(replacement)
                    return
                self._give_up(message, reason)
                return
            self._once(message.topic, f"{reason}: cannot be delivered; retrying at the longest backoff")
            message.attempts = max(message.attempts, 8)
        else:
            self.metrics.broker_up.set(0)
            log.warning("send to %s failed, retrying: %s", message.topic, reason)
        self.metrics.broker_errors.labels("send").inc()
        self.state.failing[message.topic] = reason
        message.attempts += 1
        self._waiting += 1
        delay = min(0.2 * 2 ** min(message.attempts, 8), MAX_BACKOFF_S)
        asyncio.get_running_loop().call_later(delay, self._retry, message)

    def _retry(self, message: Outgoing) -> None:
        self._waiting -= 1
        self.send(message)

    def _give_up(self, message: Outgoing, reason: str) -> None:
        self.state.skipped += 1
        self.metrics.dead_letters_skipped.inc()
        self._once(message.topic, f"{reason}: a dead letter that cannot be sent even truncated is skipped")
        for token, _ in message.tokens:
            self.committer.release(token)
        self._check_idle()

    def _once(self, topic: str, text: str) -> None:
        key = (topic, text.split(":")[0])
        if key not in self._logged:
            self._logged.add(key)
            log.error("%s: %s", topic, text)

    def _check_idle(self) -> None:
        if not self._queue and self._waiting == 0:
            self._idle.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every queued message is acknowledged (True) or the time is up (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), max(timeout_s, 0.0))
        except TimeoutError:
            return False
        return True
