"""`robotwatch alerts`: read the verdicts, deliver the alerts among them, commit after delivery
(docs/alerts.md).

One loop reads `robot.anomalies` as its own consumer group. Each anomalous or error verdict
not seen before is routed to its channels and waits in a group (robotwatch.alerts.grouping);
each record holds its offset (robotwatch.stream.committer) until every message it is part of
was delivered, suppressed by the rate limit, or written to the dead-letter topic. So the
committed offset never passes an alert that has not reached its channel.

When a partition is assigned (at start, after a restart, on a rebalance), the records just
before its committed offset are read first, only to remember their verdict ids: a verdict
that serve publishes again (same id, later offset) is then still known and not sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, fields

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from robotwatch.alerts.connection import connect
from robotwatch.alerts.dead_letters import send_dead_letter
from robotwatch.alerts.dedup import SeenIds, remembered_ids
from robotwatch.alerts.delivery import Outcome, Sender, deliver
from robotwatch.alerts.facts import alert_kind, subject
from robotwatch.alerts.grouping import Group, Grouper
from robotwatch.alerts.message import build_message
from robotwatch.alerts.routing import channels_for
from robotwatch.alerts.settings import AlertSettings
from robotwatch.stream.clients import stop_quietly
from robotwatch.stream.committer import Committer
from robotwatch.stream.verdicts import Verdict

log = logging.getLogger("robotwatch.alerts")
TICK_S = 0.2
REPORT_S = 60.0
MAX_BAD_LOGGED = 20  # then one line per 1,000
PER_CHANNEL = 4  # messages in delivery at once on one channel


@dataclass
class Counts:
    records: int = 0
    bad: int = 0
    alerts: int = 0
    repeats: int = 0
    unrouted: int = 0
    sent: int = 0
    suppressed: int = 0
    dead_letters: int = 0

    def line(self) -> str:
        return ", ".join(f"{f.name.replace('_', ' ')} {getattr(self, f.name)}" for f in fields(self))


class AlertService:
    def __init__(self, settings: AlertSettings, senders: dict[str, Sender]) -> None:
        self.settings, self.senders = settings, senders
        self.committer = Committer()
        self.grouper = Grouper(settings.grouping, settings.rate_limit)
        self.seen = SeenIds(settings.dedup_memory)
        self.counts = Counts()
        self.exit_code = 0
        self.fatal: str | None = None  # why it could not start, for the user
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._rebuilding: set[TopicPartition] = set()  # their ids before the commit point being read
        self._unpositioned: set[TopicPartition] = set()  # a new group's partitions, position not committed
        self._deliveries: set[asyncio.Task] = set()
        self._lanes = {name: asyncio.Semaphore(PER_CHANNEL) for name in senders}
        self._paused = False
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until stop(): then deliver what was read and commit, within the grace period."""
        clients = await connect(self.settings, self._stop)
        if isinstance(clients, str):
            self.fatal, self.exit_code = clients, 2
            return
        if clients is None:
            return  # stopped while waiting for the broker
        self.consumer, self.producer = clients
        self.consumer.subscribe([self.settings.anomalies_topic], listener=_Rebalance(self))
        log.info("reading %s as group %s", self.settings.anomalies_topic, self.settings.group)
        try:
            await self._read()
        except Exception:
            log.exception("the reading loop failed; shutting down")
            self.exit_code = 1
        await self._shutdown()

    async def _read(self) -> None:
        assert self.consumer is not None
        last_commit = last_report = time.monotonic()
        while not self._stop.is_set():
            self._backpressure()
            try:
                batch = await self.consumer.getmany(timeout_ms=int(TICK_S * 1000), max_records=1000)
            except KafkaError as exc:
                log.warning("fetch failed (retrying): %s", exc)
                await asyncio.sleep(0.5)
                continue
            now = time.monotonic()
            for tp, records in batch.items():
                for record in records:
                    self.take(tp, record, now)
            await self._position_new_partitions()
            self._dispatch(now)
            if now - last_commit >= TICK_S:
                await self.commit()
                last_commit = now
            if now - last_report >= REPORT_S:
                log.info("alerts: %s", self.counts.line())
                last_report = now

    def take(self, tp: TopicPartition, record: ConsumerRecord, now: float) -> None:
        """One record: never raises, whatever it holds (a bug it meets costs that record)."""
        if tp in self._rebuilding or record.offset < self.committer.next_offset.get(tp, 0):
            return  # read again from the commit point once the memory is rebuilt; or taken before
        self.committer.consumed(tp, record.offset)
        self.counts.records += 1
        try:
            self._take(tp, record, now)
        except Exception:
            self.counts.bad += 1
            log.exception("could not handle %s[%d]@%d; skipped", tp.topic, tp.partition, record.offset)

    def _take(self, tp: TopicPartition, record: ConsumerRecord, now: float) -> None:
        try:
            verdict = Verdict.model_validate_json(record.value or b"")
        except ValidationError as exc:
            self._bad(tp, record, exc)
            return
        kind = alert_kind(verdict)
        if kind is None:
            return
        if not self.seen.add(verdict.verdict_id):
            self.counts.repeats += 1
            log.info("verdict %s (%s) seen before: not sent again", verdict.verdict_id, subject(verdict))
            return
        channels = channels_for(self.settings, verdict, kind)
        if not channels:
            self.counts.unrouted += 1
            return
        self.counts.alerts += 1
        for channel in channels:
            hold = self.committer.hold(tp, record.offset)
            self.grouper.add(channel, tp, record.offset, hold, verdict, subject(verdict), kind, now)

    def _bad(self, tp: TopicPartition, record: ConsumerRecord, exc: ValidationError) -> None:
        self.counts.bad += 1
        if self.counts.bad <= MAX_BAD_LOGGED or self.counts.bad % 1000 == 0:
            problem = exc.errors()[0]
            where = ".".join(map(str, problem["loc"])) or "message"
            log.warning(
                "skipped %s[%d]@%d: not a verdict (%s: %s); %d skipped so far",
                tp.topic,
                tp.partition,
                record.offset,
                where,
                problem["msg"],
                self.counts.bad,
            )

    def _dispatch(self, now: float, flush: bool = False) -> None:
        sending, suppressed = self.grouper.due(now, flush)
        for group in suppressed:
            self.counts.suppressed += group.count
            self._release(group)
        for group in sending:
            task = asyncio.create_task(self._deliver(group), name=f"deliver {group.channel} {group.robot}")
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, group: Group) -> None:
        try:
            message = build_message(group, self.settings)
        except Exception:  # a bug: logged with the ids, so that nothing is lost without a word
            log.exception("%s: no message could be made of %s; skipped", group.channel, group.verdict_ids)
            self.counts.bad += group.count
            self._release(group)
            return
        async with self._lanes[group.channel]:
            try:
                outcome = await deliver(self.senders[group.channel], message, self.settings.delivery)
            except Exception as exc:  # a bug met this message: it costs that message, not the service
                log.exception("%s: delivering %r failed", group.channel, message.title)
                outcome = Outcome(False, 1, f"internal error: {type(exc).__name__}: {exc}")
        if outcome.delivered:
            self.counts.sent += 1
            log.info("%s: sent %r", group.channel, message.title)
        else:
            assert self.producer is not None
            await send_dead_letter(self.producer, self.settings, group, message, outcome)
            self.counts.dead_letters += 1
        self._release(group)

    def _release(self, group: Group) -> None:
        for hold in group.holds:
            self.committer.release(hold)

    def _backpressure(self) -> None:
        """Pause reading while more alerts wait or are in delivery than max_in_hand."""
        assert self.consumer is not None
        in_hand, limit = self.committer.in_flight(), self.settings.max_in_hand
        if not self._paused and in_hand > limit:
            self.consumer.pause(*self.consumer.assignment())
            self._paused = True
            log.warning("%d alerts in hand: reading paused until half of them are out", in_hand)
        elif self._paused and in_hand <= limit // 2:
            self.consumer.resume(*self.consumer.assignment())
            self._paused = False

    async def _position_new_partitions(self) -> None:
        """A partition the group never committed: commit where reading starts, so that a crash
        before its first alert does not make the next start skip to the end again."""
        assert self.consumer is not None
        for tp in list(self._unpositioned):
            self._unpositioned.discard(tp)
            if tp in self.committer.next_offset or tp not in self.consumer.assignment():
                continue
            try:
                position = await asyncio.wait_for(self.consumer.position(tp), self.settings.broker_timeout_s)
            except (KafkaError, TimeoutError) as exc:
                log.warning("position of %s[%d] unknown (will retry): %s", tp.topic, tp.partition, exc)
                self._unpositioned.add(tp)
                continue
            self.committer.consumed(tp, position - 1)

    async def commit(
        self, partitions: set[TopicPartition] | None = None, timeout_s: float | None = None
    ) -> None:
        """Commit what is safe (everything before it was delivered); never blocks for long."""
        if self.consumer is None:
            return
        try:
            timeout = self.settings.broker_timeout_s if timeout_s is None else timeout_s
            await self.committer.commit(self.consumer, {}, timeout, partitions)
        except (KafkaError, TimeoutError) as exc:
            log.warning("commit failed (will retry): %s", exc)

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Start each partition at its committed offset, once the verdict ids of up to
        `dedup_lookback` records before it are remembered (they were delivered already)."""
        assert self.consumer is not None
        s = self.settings
        starts: dict[TopicPartition, int] = {}
        for tp in partitions:
            try:
                committed = await asyncio.wait_for(self.consumer.committed(tp), s.broker_timeout_s)
            except (KafkaError, TimeoutError) as exc:
                log.warning("%s[%d]: committed offset unknown (%s)", tp.topic, tp.partition, exc)
                continue
            if committed is None:
                self._unpositioned.add(tp)
            else:
                self.committer.committed_now({tp: committed})
                if s.dedup_lookback and committed > 0:
                    starts[tp] = committed
        if starts:
            self._rebuilding |= set(starts)
            try:
                ids = await remembered_ids(s, starts)
                for verdict_id in ids:
                    self.seen.add(verdict_id)
                log.info("remembered %d alert id(s) from before the commit point", len(ids))
            except (KafkaError, TimeoutError, OSError) as exc:
                log.warning("ids before the commit point not read (%s): a repeat of them may be sent", exc)
            finally:
                assigned = self.consumer.assignment()
                for tp, committed in starts.items():
                    if tp in assigned:
                        self.consumer.seek(tp, committed)  # what came meanwhile is read again from here
                self._rebuilding -= set(starts)
        log.info("partitions assigned: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Finish the deliveries under way, commit, and forget these partitions: what still
        waited in a group is read again by the partition's next owner (its ids are forgotten
        here, so that a partition that comes back to us is sent in full)."""
        dropped = self.grouper.drop(partitions)
        for group in dropped:
            self.seen.forget(group.verdict_ids)
        if dropped:
            log.info(
                "%d alert(s) waiting are left to the partitions' next owner", sum(g.count for g in dropped)
            )
        if self._deliveries:
            await asyncio.wait(set(self._deliveries), timeout=self.settings.broker_timeout_s)
        await self.commit(partitions)
        self.committer.forget(partitions)
        self._unpositioned -= partitions
        log.info("partitions revoked: %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    async def _shutdown(self) -> None:
        """Within grace_s: stop reading, send every group now, wait for the deliveries, commit,
        leave the group. What is not delivered by then is not committed: it is read again."""
        assert self.consumer is not None and self.producer is not None
        deadline = time.monotonic() + self.settings.grace_s
        reserve = min(5.0, self.settings.grace_s / 3)
        self._dispatch(time.monotonic(), flush=True)
        if self._deliveries:
            _, late = await asyncio.wait(
                set(self._deliveries), timeout=max(0.0, deadline - reserve - time.monotonic())
            )
            for task in late:
                task.cancel()
            if late:
                log.warning(
                    "shutdown: %d message(s) not delivered in time; they will be read again", len(late)
                )
                await asyncio.gather(*late, return_exceptions=True)
        await self.commit(timeout_s=max(0.5, deadline - time.monotonic() - reserve / 2))
        await stop_quietly(self.consumer.stop(), max(0.5, (deadline - time.monotonic()) / 2))
        await stop_quietly(self.producer.stop(), max(0.5, deadline - time.monotonic()))
        log.info("stopped: %s", self.counts.line())


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: AlertService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.service.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.service.assigned(set(assigned))
