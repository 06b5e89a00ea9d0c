"""The Kafka clients of `alerts`, started with a timeout on every step and retried while the
broker cannot be reached; topics that do not exist stop it with one line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from robotwatch.alerts.settings import AlertSettings
from robotwatch.stream.clients import stop_quietly

log = logging.getLogger("robotwatch.alerts")
MAX_BACKOFF_S = 10.0


def verdict_consumer(settings: AlertSettings, options: dict[str, Any]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        group_id=settings.group,
        enable_auto_commit=False,  # committed only up to what was delivered
        auto_offset_reset=settings.start,
        fetch_max_wait_ms=200,
        request_timeout_ms=int(settings.broker_timeout_s * 3000),
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.session_timeout_s * 200),
        # a rebalance waits for deliveries under way (bounded by broker_timeout_s)
        max_poll_interval_ms=int(max(300.0, 4 * settings.broker_timeout_s) * 1000),
        **options,
    )


def dead_letter_producer(settings: AlertSettings, options: dict[str, Any]) -> AIOKafkaProducer:
    # acks=all: a dead letter is the only trace of an alert that did not arrive. Not idempotent:
    # not every Kafka-compatible broker supports it, and a copy is harmless here.
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=False,
        request_timeout_ms=int(settings.broker_timeout_s * 1000),
        **options,
    )


async def _create_dead_letter_topic(settings: AlertSettings, options: dict[str, Any]) -> None:
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        if settings.dead_letter_topic not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance was faster
                await admin.create_topics(
                    [NewTopic(settings.dead_letter_topic, 1, settings.replication_factor)]
                )
    finally:
        await admin.close()


async def connect(
    settings: AlertSettings, stop: asyncio.Event
) -> tuple[AIOKafkaConsumer, AIOKafkaProducer] | str | None:
    """Started clients; a sentence when a topic is missing (exit 2); None when stopped first."""
    s = settings
    options = s.kafka.client_options()
    backoff = 0.5
    while not stop.is_set():
        consumer: AIOKafkaConsumer | None = None
        producer: AIOKafkaProducer | None = None
        try:
            if s.create_topics:
                await asyncio.wait_for(_create_dead_letter_topic(s, options), s.broker_timeout_s)
            producer = dead_letter_producer(s, options)
            await asyncio.wait_for(producer.start(), s.broker_timeout_s)
            consumer = verdict_consumer(s, options)
            await asyncio.wait_for(consumer.start(), s.broker_timeout_s)
            existing = await asyncio.wait_for(consumer.topics(), s.broker_timeout_s)
            missing = [t for t in (s.anomalies_topic, s.dead_letter_topic) if t not in existing]
            if missing:
                await stop_quietly(consumer.stop())
                await stop_quietly(producer.stop())
                hint = "" if s.create_topics else " (--create-topics creates the dead-letter topic)"
                return f"topic(s) {', '.join(missing)} do not exist on {s.kafka.bootstrap_servers}{hint}"
            return consumer, producer
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning(
                "cannot reach Kafka at %s (%s: %s); retrying in %.0f s",
                s.kafka.bootstrap_servers,
                type(exc).__name__,
                exc,
                backoff,
            )
            for client in (consumer, producer):
                if client is not None:
                    await stop_quietly(client.stop())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_S)
    return None
