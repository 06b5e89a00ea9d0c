"""`robotwatch serve`: consume, score, publish one verdict per cycle (docs/architecture.md §2-§6).

A thin loop over parts that each do one job: the sources (robotwatch.stream.sources: a
message in, work out; work in, verdicts out), the committer (which offsets are safe), the
outbox (acks=all delivery that never blocks) and health. The loop owns its tasks in explicit
lists: readers (consume, housekeep, probe), the scoring stages (robotwatch.stream.scoring: one
per source, a second task where flagged cycles are localized apart), and the outbox sender.
No message can stop it: what a source refuses is dead-lettered with its reason kind, a bug
met by one message dead-letters that message, and a task that dies of a bug stops the
service with exit status 1 after it delivered and committed what it could.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from robotwatch.fleet.registry import ModelRegistry
from robotwatch.mtsflow.score import Localize
from robotwatch.stream.clients import signal_consumer, stop_quietly, verdict_producer
from robotwatch.stream.committer import Committer
from robotwatch.stream.delivery import Outbox, Outgoing
from robotwatch.stream.health import Health, readiness
from robotwatch.stream.http import serve_http
from robotwatch.stream.intake import Intake
from robotwatch.stream.metrics import ServiceMetrics
from robotwatch.stream.model_swaps import ModelWatcher
from robotwatch.stream.pipeline import CyclePipeline, PipelineSettings
from robotwatch.stream.scoring import ScoringStage, available_cores, cpu_threads
from robotwatch.stream.settings import ServeSettings
from robotwatch.stream.sources import SignalSource, Source, Work
from robotwatch.stream.topics import ensure_topics, missing_topics, required_topics
from robotwatch.stream.verdicts import Verdict

log = logging.getLogger("robotwatch.serve")


class Service:
    def __init__(self, settings: ServeSettings, registry: ModelRegistry, config: Path | None = None) -> None:
        """`registry` holds the loaded models; `config` is the TOML a SIGHUP reads again."""
        s = self.settings = settings
        self.metrics, self.health = ServiceMetrics(robots_labelled=s.metrics_robots), Health()
        self.committer = Committer()
        pipeline = CyclePipeline(
            registry,
            PipelineSettings(Localize(s.localize), s.idle_close_s, s.forget_s, max_robots=s.max_robots),
        )
        self.registry = registry
        self.models = ModelWatcher(registry, self.metrics, s.models_poll_s, config)
        # A robot streaming this long without a cycle closing is muted: twice the longest a
        # cycle can run before it is closed by force, plus the idle timeout.
        longest_s = max(
            m.model.card.padded_length / m.model.card.sample_rate_hz for m in registry.models.values()
        )
        mute_s = s.mute_s or 2 * 4 * longest_s + s.idle_close_s
        self.sources: dict[str, Source] = {s.signals_topic: SignalSource(s.signals_topic, pipeline, mute_s)}
        if s.vision_model is not None:
            from robotwatch.stream.camera import CameraSource

            self.sources[s.frames_topic] = CameraSource(s.frames_topic, s.vision_model, s.device, s.map_dir)
        self.pipeline = pipeline
        self.threads = cpu_threads(s.scoring_threads, available_cores())  # of one forward pass
        self.listeners: list[Callable[[list[Verdict]], None]] = []  # e.g. the live view
        self.exit_code = 0
        self.fatal: str | None = None  # why it stopped, for the user, when it could not start
        self.consumer: AIOKafkaConsumer | None = None
        self.outbox: Outbox | None = None
        self.intake = Intake(s, self.sources, self.committer, self.metrics, self.health)
        # Where serve localizes flagged cycles only, their events come in a second pass, so
        # that no normal verdict waits for them (robotwatch.stream.scoring).
        self.stages = {
            t: ScoringStage(
                source,
                self.intake.queues[t],
                self._publish,
                s.verdict_budget_s,
                s.batch_max_cycles,
                localize_later=source.kind == "signals" and s.localize == Localize.FLAGGED,
                process_threads=self.threads if source.kind == "signals" and s.scoring_process else None,
                models=lambda: list(registry.models.values()),
            )
            for t, source in self.sources.items()
        }
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    # -- probes ---------------------------------------------------------------------------
    def livez(self) -> tuple[bool, dict[str, object]]:
        return self.health.livez()

    def readyz(self) -> tuple[bool, dict[str, object]]:
        muted = [m for source in self.sources.values() for m in source.muted(time.monotonic())]
        stalled = self.committer.stalled(self.settings.commit_stall_s)
        checks = self.health.checks(
            stalled=[f"{tp.topic}[{tp.partition}]" for tp in stalled],
            delivery_failing=self.outbox.state.failing if self.outbox else {},
            muted=muted,
            dead_letter_limit=self.settings.dead_letter_limit,
        )
        unmatched = self.intake.without_model()
        checks["models"] = "; ".join(self.registry.problems()) or None
        checks["mismatched_robots"] = "; ".join(self.pipeline.recent_problems()[:10]) or None
        checks["robots_without_model"] = (
            f"{len(unmatched)} robot(s) no model matches: {', '.join(unmatched[:10])}" if unmatched else None
        )
        starting = [w.name for stage in self.stages.values() for w in stage.workers if not w.ready()]
        checks["scoring_processes"] = f"starting: {', '.join(starting)}" if starting else None
        frames, cycles, dead = self.metrics.totals()
        ok, doc = readiness(
            checks,
            {
                "checks": checks,
                "frames": frames,
                "cycles": cycles,
                "dead_letters": dead,
                "consumer_lag": sum(self.intake.lag.values()),
                "in_flight": self.committer.in_flight(),
                "backlog": self.outbox.backlog() if self.outbox else 0,
                "paused": self.intake.paused,
                "robots": len(self.pipeline.robots),
                "assigned_partitions": self.health.assigned,
                "uptime_s": self.health.uptime(),
            },
        )
        self.metrics.ready.set(int(ok))
        self.metrics.muted_robots.set(len(muted))
        self.metrics.stalled_partitions.set(len(stalled))
        return ok, doc

    # -- the loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until stop(); then finish what is in hand within the grace period and leave."""
        s = self.settings
        http = (
            await serve_http(
                s.http_host, s.http_port, self.metrics.registry, self.livez, self.readyz, self.registry.info
            )
            if s.http_port
            else None
        )
        try:
            if not await self._connect():
                return
            assert self.outbox is not None
            assert self.consumer is not None
            readers = [
                asyncio.create_task(self.intake.run(self.consumer, self.outbox, self._stop), name="consume"),
                asyncio.create_task(self._housekeep(), name="housekeep"),
                asyncio.create_task(self._probe(), name="probe"),
                asyncio.create_task(self.models.run(), name="models"),
            ]
            scorers = [task for stage in self.stages.values() for task in stage.tasks()]
            sender = asyncio.create_task(self.outbox.run(), name="outbox")
            stopped = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stopped, *readers, *scorers, sender], return_when=asyncio.FIRST_COMPLETED)
            for task in [*readers, *scorers, sender]:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("task %s failed: %r; shutting down", task.get_name(), task.exception())
                    self.exit_code = 1
            stopped.cancel()
            await self._shutdown(readers, scorers, sender)
        finally:
            if http is not None:
                http.close()
            for stage in self.stages.values():
                stage.close()
            self.models.close()

    async def _connect(self) -> bool:
        """Start producer and consumer, retrying while the broker is unreachable; stop with one
        clear line (exit status 2) when the output topics do not exist."""
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
                missing = missing_topics(
                    required_topics(s), await asyncio.wait_for(consumer.topics(), s.broker_timeout_s)
                )
                if missing:
                    self.fatal = (
                        f"topic(s) {', '.join(missing)} do not exist on {s.kafka.bootstrap_servers}: "
                        f"create them, or start with --create-topics"
                    )
                    log.error(self.fatal)
                    self.exit_code = 2
                    await stop_quietly(consumer.stop())
                    await stop_quietly(producer.stop())
                    return False
                consumer.subscribe(list(self.sources), listener=_Rebalance(self))
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
            self.outbox = Outbox(producer, self.committer, self.metrics, s.broker_timeout_s)
            self.health.broker(True)
            self.metrics.broker_up.set(1)
            log.info("consuming %s as group %s", ", ".join(self.sources), s.group)
            return True
        return False

    def _publish(self, item: Work, token: int, verdict: Verdict) -> None:
        assert self.outbox is not None
        started = item.started
        result = "error" if verdict.status == "error" else "anomalous" if verdict.anomalous else "normal"
        self.metrics.cycles.labels(result).inc()
        self.metrics.robot_verdict(verdict.robot_id or verdict.cell_id or "", result)
        if verdict.status == "error":
            self.metrics.scoring_errors.inc()
        self.health.scored(verdict.error)
        for listener in self.listeners:
            listener([verdict])
        self.outbox.send(
            Outgoing(
                self.settings.anomalies_topic,
                verdict.key,
                verdict.to_bytes(),
                tokens=[(token, item.start_offset)],
                on_ack=lambda: self.metrics.latency.observe(time.monotonic() - started),
            )
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
            self.outbox.send(Outgoing(self.settings.scores_topic, verdict.key, json.dumps(compact).encode()))

    async def _housekeep(self) -> None:
        last_commit = last_health = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            self.health.beat()
            now = time.monotonic()
            if now - last_health >= 1.0:  # the health gauges stay fresh without a probe asking
                self.readyz()
                last_health = now
            for topic, source in self.sources.items():
                for item in source.due(now, self.intake.delivered_for(topic)):
                    self.intake.enqueue(item)
            self.metrics.robots.set(len(self.pipeline.robots))
            self.metrics.in_flight.set(self.committer.in_flight())
            if now - last_commit >= self.settings.commit_interval_s:
                await self.commit()
                last_commit = now

    async def _probe(self) -> None:
        """Ask the cluster for its metadata every few seconds: a quiet stream and a dead broker
        look alike to the consumer, and health must tell them apart."""
        assert self.consumer is not None
        while True:
            try:
                topics = await asyncio.wait_for(self.consumer.topics(), self.settings.broker_timeout_s)
            except (KafkaError, TimeoutError) as exc:
                self.metrics.broker_errors.labels("metadata").inc()
                self.metrics.broker_up.set(0)
                self.health.broker(False, f"metadata: {type(exc).__name__}: {exc}")
            else:
                self.health.broker(True)
                self.health.topics_missing = missing_topics(
                    [*required_topics(self.settings), *self.sources], topics
                )
            await asyncio.sleep(2.0)

    async def commit(
        self, partitions: set[TopicPartition] | None = None, timeout_s: float | None = None
    ) -> None:
        """Commit the safe offsets (of `partitions`, default all assigned); never blocks forever."""
        if self.consumer is None:
            return
        anchors = {tp: a for source in self.sources.values() for tp, a in source.anchors().items()}
        try:
            timeout = self.settings.broker_timeout_s if timeout_s is None else timeout_s
            if await self.committer.commit(self.consumer, anchors, timeout, partitions):
                self.metrics.commits.inc()
        except (KafkaError, TimeoutError) as exc:
            self.metrics.broker_errors.labels("commit").inc()
            self.health.broker(False, f"commit: {type(exc).__name__}: {exc}")
            log.warning("commit failed (will retry): %s", exc)

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        """Rebalance (committer rule 6): flush, commit what is safe, forget the revoked partitions."""
        if self.outbox is not None:
            await self.outbox.drain(self.settings.broker_timeout_s)
        await self.commit(revoked)
        for source in self.sources.values():
            source.revoke(revoked)
        self.committer.forget(revoked)
        self.intake.forget(revoked)
        log.info("partitions revoked: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))

    async def _shutdown(
        self, readers: list[asyncio.Task], scorers: list[asyncio.Task], sender: asyncio.Task
    ) -> None:
        """Within the grace period: stop reading; score and deliver what was closed; commit;
        leave the group. What is not acknowledged by then is not committed: it is re-read."""
        deadline = time.monotonic() + self.settings.grace_s
        reserve = min(5.0, self.settings.grace_s / 3)  # for the commit and leaving the group

        def left(keep: float = 0.0) -> float:
            return max(0.0, deadline - keep - time.monotonic())

        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(q.join() for q in self.intake.queues.values())), left(reserve)
            )
        except TimeoutError:
            log.warning(
                "shutdown: %d item(s) left unscored; they will be re-read",
                sum(q.qsize() for q in self.intake.queues.values()),
            )
        for task in scorers:
            task.cancel()
        await asyncio.gather(*scorers, return_exceptions=True)
        assert self.outbox is not None and self.consumer is not None
        if not await self.outbox.drain(left(reserve)):
            log.warning("shutdown: verdicts not acknowledged in time; their cycles will be re-read")
        await self.commit(timeout_s=max(0.5, left(reserve / 2)))
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await stop_quietly(self.consumer.stop(), max(0.5, left() / 2))
        await stop_quietly(self.outbox.producer.stop(), max(0.5, left()))
        log.info("stopped: %d frames, %d cycles, %d dead letters", *self.metrics.totals())


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: Service) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.service.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.service.health.assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        log.info("partitions assigned: %s", self.service.health.assigned)
