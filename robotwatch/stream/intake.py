"""The reading side of `serve`: fetch, hand each message to its source, queue the work it gives
(holding its commit position), dead-letter what a source refuses, and pause reading while
too much is in hand. It also keeps what health and the idle closes need to know of the
stream: the lag and, per partition, until when everything was delivered."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from robotwatch.stream.committer import Committer
from robotwatch.stream.dead_letters import dead_letter
from robotwatch.stream.delivery import Outbox
from robotwatch.stream.health import Health
from robotwatch.stream.metrics import ServiceMetrics
from robotwatch.stream.rejects import Rejected, RejectKind
from robotwatch.stream.settings import ServeSettings
from robotwatch.stream.sources import Source, Work

log = logging.getLogger("robotwatch.serve")
Queued = tuple[Work, int]  # the work and its committer token
FRESH_S = 5.0  # a fetch response younger than this: the broker answers
MAX_REFUSALS_LOGGED = 100
# Kinds that refuse a whole robot: counted, not dead-lettered frame by frame.
COUNTED = (RejectKind.ROBOT_LIMIT, RejectKind.NO_MODEL, RejectKind.MODEL_MISMATCH)


class Intake:
    def __init__(
        self,
        settings: ServeSettings,
        sources: Mapping[str, Source],
        committer: Committer,
        metrics: ServiceMetrics,
        health: Health,
    ) -> None:
        self.settings, self.sources, self.committer = settings, sources, committer
        self.metrics, self.health = metrics, health
        self.queues: dict[str, asyncio.Queue[Queued]] = {t: asyncio.Queue() for t in sources}
        self.paused = False
        self.lag: dict[TopicPartition, int] = {}
        self.delivered: dict[TopicPartition, float] = {}  # caught up at (monotonic)
        self.answering_since: dict[TopicPartition, float] = {}  # fetches answered since (monotonic)
        self._refusals_logged: set[str] = set()
        self.unmatched: dict[str, float] = {}  # robots without a model -> when last seen

    def without_model(self, window_s: float = 60.0) -> list[str]:
        now = time.monotonic()
        return sorted(r for r, t in self.unmatched.items() if now - t < window_s)

    async def run(self, consumer: AIOKafkaConsumer, outbox: Outbox, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._apply_backpressure(consumer)
            try:
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            except KafkaError as exc:
                self.metrics.broker_errors.labels("fetch").inc()
                self.health.broker(False, f"fetch: {exc}")
                await asyncio.sleep(0.5)
                continue
            for tp, messages in batch.items():
                for message in messages:
                    await self.handle(tp, message, outbox)
            self._note_delivery(consumer)
            await asyncio.sleep(0)

    async def handle(self, tp: TopicPartition, message: ConsumerRecord, outbox: Outbox) -> None:
        """One message: never raises, whatever it holds."""
        self.committer.consumed(tp, message.offset)
        source = self.sources[tp.topic]
        (self.metrics.frames if source.kind == "signals" else self.metrics.camera_frames).inc()
        try:
            work = await source.take(tp, message)
        except Rejected as refused:
            if refused.kind in COUNTED:
                self._refuse(refused)
            else:
                self._dead_letter(tp, message, refused, outbox)
            return
        except Exception as exc:  # a bug met this message: it costs that message, not the service
            log.exception("could not process %s[%d]@%d", tp.topic, tp.partition, message.offset)
            bug = Rejected(RejectKind.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}")
            self._dead_letter(tp, message, bug, outbox)
            return
        self.health.message(dead_lettered=False)
        for item in work:
            self.enqueue(item)

    def enqueue(self, item: Work) -> None:
        self.queues[item.tp.topic].put_nowait((item, self.committer.hold(item.tp, item.anchor)))

    def _refuse(self, refused: Rejected) -> None:
        """A robot over the limit, without a model, or whose frames do not fit its model:
        every frame of it would be refused, so it is counted and shown in health (the pipeline
        and this log name it once), never dead-lettered frame by frame."""
        if refused.kind is RejectKind.MODEL_MISMATCH:
            self.metrics.mismatched.inc()  # the pipeline logged the robot once, with what fits
            return
        if refused.kind is RejectKind.ROBOT_LIMIT:
            self.metrics.robots_refused.inc()
            self.health.refused()
        else:
            self.metrics.without_model.inc()
            if refused.robot is not None and (refused.robot in self.unmatched or len(self.unmatched) < 1000):
                self.unmatched[refused.robot] = time.monotonic()
        if len(self._refusals_logged) < MAX_REFUSALS_LOGGED and str(refused) not in self._refusals_logged:
            self._refusals_logged.add(str(refused))
            log.warning("refused: %s", refused)

    def _dead_letter(
        self, tp: TopicPartition, message: ConsumerRecord, refused: Rejected, outbox: Outbox
    ) -> None:
        self.metrics.dead_letters.labels(refused.kind.value).inc()
        self.health.message(dead_lettered=True)
        log.warning(
            "dead letter %s[%d]@%d (%s): %.300s",
            tp.topic,
            tp.partition,
            message.offset,
            refused.kind,
            refused,
        )
        s = self.settings
        letter = dead_letter(s.dead_letter_topic, tp, message, refused, s.dead_letter_max_bytes)
        letter.tokens = [(self.committer.hold(tp, message.offset), None)]
        outbox.send(letter)

    def _apply_backpressure(self, consumer: AIOKafkaConsumer) -> None:
        """Pause every partition while more is in hand than `max_queued`; resume at half. In
        hand: everything that holds a commit position, from the queue through scoring and
        localization to the broker's acknowledgement of its verdict or dead letter."""
        in_hand, limit = self.committer.in_flight(), self.settings.max_queued
        if not self.paused and in_hand > limit:
            consumer.pause(*consumer.assignment())
            self.paused = True
        elif self.paused and in_hand <= limit // 2:
            consumer.resume(*consumer.assignment())
            self.paused = False
        self.metrics.paused.set(int(self.paused))

    def _note_delivery(self, consumer: AIOKafkaConsumer) -> None:
        """Lag, and per partition the time up to which everything was delivered: the last
        fetch response (a wall-clock stamp, turned into this clock) that found it caught up."""
        now_wall, now = time.time(), time.monotonic()
        for tp in consumer.assignment():
            highwater, polled = consumer.highwater(tp), consumer.last_poll_timestamp(tp)
            position = self.committer.next_offset.get(tp)
            if highwater is None or polled is None or position is None:
                continue
            self.lag[tp] = max(0, highwater - position)
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(self.lag[tp])
            age = max(0.0, now_wall - polled / 1000)
            if position >= highwater:
                self.delivered[tp] = now - age
            if age < FRESH_S:  # a fetch answered lately: the broker is there
                self.answering_since.setdefault(tp, now)
                self.health.broker(True)
                self.metrics.broker_up.set(1)
            else:
                self.answering_since.pop(tp, None)

    def delivered_for(self, topic: str) -> dict[int, float]:
        """Per partition of `topic`, until when the stream is known complete. After an outage
        the producers get `idle_close_s` to send what they held back before a quiet robot
        counts as quiet: a gateway catching up is not a robot that stopped."""
        grace = self.settings.idle_close_s
        return {
            tp.partition: t
            for tp, t in self.delivered.items()
            if tp.topic == topic and t >= self.answering_since.get(tp, math.inf) + grace
        }

    def forget(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            if self.lag.pop(tp, None) is not None:  # another instance reports it now
                self.metrics.lag.remove(tp.topic, str(tp.partition))
            self.delivered.pop(tp, None)
            self.answering_since.pop(tp, None)
