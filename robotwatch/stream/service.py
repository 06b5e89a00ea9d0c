"""`robotwatch serve`: consume signal frames, publish one verdict per cycle
(docs/architecture.md §2-§6).

Three tasks share one event loop: the consumer (decode, assemble), the scorer (batches of
closed cycles on the model's device, in a worker thread so the loop never blocks) and the
housekeeper (idle cycles, commits, lag). Delivery is at-least-once: auto-commit is off and
a partition's offset is committed only up to the anchor of its oldest cycle that is still
open or whose verdict the broker has not acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from robotwatch.mtsflow.model_file import TrainedModel
from robotwatch.mtsflow.score import Localize
from robotwatch.stream.assembly import AssembledCycle
from robotwatch.stream.camera import CameraFrame, CameraScoring
from robotwatch.stream.clients import signal_consumer, stop_quietly, verdict_producer
from robotwatch.stream.delivery import Outbox
from robotwatch.stream.metrics import Health, ServiceMetrics, serve_http
from robotwatch.stream.offsets import OffsetTracker, commit_safe
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.settings import ServeSettings
from robotwatch.stream.signal_frame import SignalFrameError
from robotwatch.stream.topics import ensure_topics
from robotwatch.stream.verdicts import Verdict
from rwcore.errors import UserError

log = logging.getLogger("robotwatch.serve")
_T = TypeVar("_T")


@dataclass
class _Item:
    """A closed cycle or camera frame, holding its commit position until its verdict is acked."""

    payload: AssembledCycle | CameraFrame
    token: int
    started: float  # monotonic time the latency counts from


class Service:
    def __init__(self, settings: ServeSettings, model: TrainedModel) -> None:
        self.settings = settings
        self.model = model
        self.pipeline = CyclePipeline(
            model,
            PipelineSettings(Localize(settings.localize), settings.idle_close_s, settings.forget_s),
            settings.device,
        )
        self.tracker = OffsetTracker()
        self.metrics = ServiceMetrics()
        self.health = Health()
        self.listeners: list[Callable[[list[Verdict]], None]] = []  # e.g. the live view
        self.camera = (
            CameraScoring(settings.vision_model, settings.device, settings.map_dir)
            if settings.vision_model
            else None
        )
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._camera_queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="robotwatch-score")
        self._stop = asyncio.Event()
        self._lag: dict[TopicPartition, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.outbox: Outbox | None = None
        self.failed = False

    def stop(self) -> None:
        self._stop.set()

    def health_document(self) -> dict[str, object]:
        return self.health.document(
            self.metrics, sum(self._lag.values()), self.tracker.in_flight(), len(self.pipeline.robots)
        )

    async def run(self) -> None:
        """Run until stop(); then finish what is in hand, commit and leave the group."""
        s = self.settings
        http = (
            await serve_http(s.http_host, s.http_port, self.metrics, self.health_document)
            if s.http_port
            else None
        )
        try:
            if not await self._connect():
                return
            tasks = [
                asyncio.create_task(self._consume(), name="consume"),
                asyncio.create_task(self._score(self._queue, self.pipeline.score), name="score"),
                asyncio.create_task(self._housekeep(), name="housekeep"),
                asyncio.create_task(self._probe(), name="probe"),
            ]
            if self.camera is not None:
                tasks.append(
                    asyncio.create_task(self._score(self._camera_queue, self.camera.score), name="score")
                )
            stopped = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    # A task died of a bug: stop cleanly (nothing unacknowledged is committed)
                    # and exit non-zero so the supervisor restarts the service.
                    log.error("task %s failed: %r; shutting down", task.get_name(), task.exception())
                    self.failed = True
            stopped.cancel()
            await self._shutdown(tasks)
        finally:
            if http is not None:
                http.close()
            self._executor.shutdown(wait=False)

    async def _connect(self) -> bool:
        """Start producer and consumer, retrying while the broker is unreachable."""
        s = self.settings
        options = s.kafka.client_options()
        backoff = 0.5
        while not self._stop.is_set():
            producer = consumer = None
            try:
                if s.create_topics:
                    await asyncio.wait_for(ensure_topics(s, options), s.broker_timeout_s)
                producer = verdict_producer(s, options)
                await asyncio.wait_for(producer.start(), s.broker_timeout_s)
                consumer = signal_consumer(s, options)
                await asyncio.wait_for(consumer.start(), s.broker_timeout_s)
                topics = [s.signals_topic] + ([s.frames_topic] if self.camera else [])
                consumer.subscribe(topics, listener=_Rebalance(self))
            except (KafkaError, TimeoutError, OSError) as exc:
                self.health.broker(False, f"connect: {type(exc).__name__}: {exc}")
                self.metrics.broker_up.set(0)
                log.warning(
                    "cannot reach Kafka at %s (%s); retrying in %.0f s",
                    s.kafka.bootstrap_servers,
                    exc,
                    backoff,
                )
                for client in (consumer, producer):
                    if client is not None:
                        await stop_quietly(client.stop())
                await asyncio.sleep(backoff)
                backoff = min(2 * backoff, 10.0)
                continue
            self.consumer = consumer
            self.outbox = Outbox(producer, self.tracker, self.metrics, self.health, s.broker_timeout_s)
            self.health.broker(True)
            self.metrics.broker_up.set(1)
            log.info("consuming %s as group %s", s.signals_topic, s.group)
            return True
        return False

    async def _consume(self) -> None:
        assert self.consumer is not None
        while not self._stop.is_set():
            try:
                batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            except KafkaError as exc:
                self.metrics.broker_errors.labels("fetch").inc()
                self.health.broker(False, f"fetch: {exc}")
                await asyncio.sleep(0.5)
                continue
            for tp, messages in batch.items():
                for message in messages:
                    self._handle(tp, message)
                if messages:
                    self._lag[tp] = max(0, (self.consumer.highwater(tp) or 0) - messages[-1].offset - 1)
                    self.metrics.lag.labels(tp.topic, str(tp.partition)).set(self._lag[tp])
            if batch:
                self.health.broker(True)
                self.metrics.broker_up.set(1)
            await asyncio.sleep(0)

    def _handle(self, tp: TopicPartition, message) -> None:
        """One message: never raises, whatever it holds."""
        self.tracker.consumed(tp, message.offset)
        if self.camera is not None and tp.topic == self.settings.frames_topic:
            self._handle_camera(tp, message)
            return
        self.metrics.frames.inc()
        robot = message.key.decode(errors="replace") if message.key else ""

        def feed() -> list[AssembledCycle]:
            if not robot:
                raise SignalFrameError("no robot id: the message key must be the robot id")
            return self.pipeline.feed(
                robot, self.pipeline.decode(message.value or b""), message.offset, tp.partition
            )

        closed = self._or_dead_letter(tp, message, feed)
        if closed is not None:
            self._enqueue(tp, closed)

    def _or_dead_letter(self, tp: TopicPartition, message, work: Callable[[], _T]) -> _T | None:
        """work(), or None with the message dead-lettered: a bad message, or a bug, must cost
        that one message and never the service."""
        try:
            return work()
        except UserError as exc:
            self._dead_letter(tp, message, str(exc))
        except Exception as exc:
            log.exception("could not process %s[%d]@%d", tp.topic, tp.partition, message.offset)
            self._dead_letter(tp, message, f"internal error: {type(exc).__name__}: {exc}")
        return None

    def _enqueue(self, tp: TopicPartition, closed: list[AssembledCycle]) -> None:
        for cycle in closed:
            self._queue.put_nowait(_Item(cycle, self.tracker.hold(tp, cycle.anchor), cycle.closed_at))

    def _handle_camera(self, tp: TopicPartition, message) -> None:
        assert self.camera is not None
        self.metrics.camera_frames.inc()
        camera = self.camera
        frame = self._or_dead_letter(
            tp, message, lambda: camera.decode(message.key, message.value, message.headers, message.offset)
        )
        if frame is not None:
            self._camera_queue.put_nowait(
                _Item(frame, self.tracker.hold(tp, message.offset), frame.received_at)
            )

    def _dead_letter(self, tp: TopicPartition, message, reason: str) -> None:
        assert self.outbox is not None
        self.metrics.dead_letters.labels(reason.split(":")[0][:40]).inc()
        log.warning("dead letter %s[%d]@%d: %s", tp.topic, tp.partition, message.offset, reason)
        headers = [
            ("reason", reason.encode()),
            ("source_topic", tp.topic.encode()),
            ("source_partition", str(tp.partition).encode()),
            ("source_offset", str(message.offset).encode()),
        ]
        self.outbox.send(
            self.settings.dead_letter_topic,
            message.key,
            message.value or b"",
            tokens=[self.tracker.hold(tp, message.offset)],
            headers=headers,
        )

    async def _score(self, queue: asyncio.Queue[_Item], score) -> None:
        """Batches from `queue`, scored in the worker thread, published as they come back."""
        loop = asyncio.get_running_loop()
        s = self.settings
        while True:
            batch = [await queue.get()]
            deadline = time.monotonic() + s.batch_max_wait_ms / 1000
            while len(batch) < s.batch_max_cycles and (wait := deadline - time.monotonic()) > 0:
                try:
                    batch.append(await asyncio.wait_for(queue.get(), wait))
                except TimeoutError:
                    break
            try:
                verdicts = await loop.run_in_executor(self._executor, score, [b.payload for b in batch])
            except (
                Exception
            ):  # scoring failed: the items stay held (uncommitted) and are re-read after a restart
                log.exception("scoring a batch of %d failed", len(batch))
                verdicts = []
            for item, verdict in zip(batch, verdicts, strict=False):
                self._publish(item, verdict)
            for _ in batch:
                queue.task_done()

    def _publish(self, item: _Item, verdict: Verdict) -> None:
        assert self.outbox is not None
        started = item.started
        self.metrics.cycles.labels("anomalous" if verdict.anomalous else "normal").inc()
        for listener in self.listeners:
            listener([verdict])
        self.outbox.send(
            self.settings.anomalies_topic,
            verdict.key,
            verdict.to_bytes(),
            tokens=[item.token],
            on_ack=lambda: self.metrics.latency.observe(time.monotonic() - started),
        )
        if self.settings.scores_topic:
            compact = {
                "source": verdict.source,
                "id": verdict.robot_id or verdict.cell_id,
                "cycle": verdict.cycle_id,
                "score": verdict.score,
                "anomalous": verdict.anomalous,
                "end": verdict.end_time,
            }
            self.outbox.send(self.settings.scores_topic, verdict.key, json.dumps(compact).encode())

    async def _probe(self) -> None:
        """Ask the cluster for its metadata every few seconds: a quiet stream and a dead broker
        look alike to the consumer, and /health must tell them apart."""
        assert self.consumer is not None
        while True:
            try:
                await asyncio.wait_for(self.consumer.topics(), self.settings.broker_timeout_s)
            except (KafkaError, TimeoutError) as exc:
                self.metrics.broker_errors.labels("metadata").inc()
                self.metrics.broker_up.set(0)
                self.health.broker(False, f"metadata: {type(exc).__name__}: {exc}")
            else:
                self.metrics.broker_up.set(1)
                self.health.broker(True)
            await asyncio.sleep(2.0)

    async def _housekeep(self) -> None:
        last_commit = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            lagging = {
                tp.partition
                for tp, lag in self._lag.items()
                if lag > 0 and tp.topic == self.settings.signals_topic
            }
            for cycle in self.pipeline.close_idle(busy=lagging):
                partition = self.pipeline.partition_of(cycle.robot)
                if partition is not None:
                    self._enqueue(TopicPartition(self.settings.signals_topic, partition), [cycle])
            self.metrics.robots.set(len(self.pipeline.robots))
            self.metrics.in_flight.set(self.tracker.in_flight())
            if time.monotonic() - last_commit >= self.settings.commit_interval_s:
                await self.commit()
                last_commit = time.monotonic()

    async def commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit the safe offsets (of `partitions`, default all assigned); never blocks forever."""
        if self.consumer is None:
            return
        topic = self.settings.signals_topic
        anchors = {TopicPartition(topic, p): a for p, a in self.pipeline.anchors().items()}
        try:
            if await commit_safe(
                self.consumer, self.tracker, anchors, partitions, self.settings.broker_timeout_s
            ):
                self.metrics.commits.inc()
        except (KafkaError, TimeoutError) as exc:
            self.metrics.broker_errors.labels("commit").inc()
            self.health.broker(False, f"commit: {type(exc).__name__}: {exc}")
            log.warning("commit failed (will retry): %s", exc)

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        """Rebalance: flush, commit what is safe, forget the robots of the revoked partitions."""
        if self.outbox is not None:
            await self.outbox.drain(self.settings.broker_timeout_s)
        await self.commit(revoked)
        self.pipeline.drop_partitions(
            {tp.partition for tp in revoked if tp.topic == self.settings.signals_topic}
        )
        self.tracker.forget(revoked)
        for tp in revoked:
            self._lag.pop(tp, None)
        log.info("partitions revoked: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        """Stop reading; score and deliver what was closed; commit; leave the group."""
        readers = [t for t in tasks if t.get_name() != "score"]
        scorers = [t for t in tasks if t.get_name() == "score"]
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        try:
            await asyncio.wait_for(asyncio.gather(self._queue.join(), self._camera_queue.join()), 60)
        except TimeoutError:
            log.warning(
                "shutdown: %d cycles and %d frames left unscored; they will be re-read",
                self._queue.qsize(),
                self._camera_queue.qsize(),
            )
        for task in scorers:
            task.cancel()
        await asyncio.gather(*scorers, return_exceptions=True)
        assert self.outbox is not None and self.consumer is not None
        if not await self.outbox.drain(self.settings.broker_timeout_s):
            log.warning("shutdown: verdicts not acknowledged in time; their cycles will be re-read")
        await self.commit()
        await self.outbox.cancel()
        await stop_quietly(self.consumer.stop())
        await stop_quietly(self.outbox.producer.stop())
        log.info("stopped: %d frames, %d cycles, %d dead letters", *self.metrics.totals())


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.service.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.service.health.assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        log.info("partitions assigned: %s", self.service.health.assigned)
