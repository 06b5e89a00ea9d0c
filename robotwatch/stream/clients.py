"""The Kafka clients of robotwatch, with the settings that delivery (docs/architecture.md §6) needs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from robotwatch.stream.settings import ServeSettings

log = logging.getLogger("robotwatch.serve")


def verdict_producer(settings: ServeSettings, options: dict[str, Any]) -> AIOKafkaProducer:
    # acks=all: a cycle's offset is released only once its verdict is safe on the brokers.
    # Idempotence is not needed (verdict ids are deterministic) and not every
    # Kafka-compatible broker supports it.
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        request_timeout_ms=int(settings.broker_timeout_s * 1000),
        **options,
    )


def frame_producer(client_options: dict[str, Any], timeout_s: float = 30.0) -> AIOKafkaProducer:
    """A producer for signal frames. A frame of 25 x 130 is 13 kB, so aiokafka's default 16 kB
    batch would hold one frame and make every frame its own produce request (~1,000 frames/s
    at most here); 1 MB batches carry ~9,000 frames/s."""
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=False,
        linger_ms=10,
        max_batch_size=1 << 20,
        max_request_size=16 << 20,
        request_timeout_ms=int(timeout_s * 1000),
        **client_options,
    )


def signal_consumer(settings: ServeSettings, options: dict[str, Any]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        group_id=settings.group,
        enable_auto_commit=False,  # offsets are committed only up to what has its verdict
        auto_offset_reset="earliest",
        # a verdict is due within a second of the cycle's end: do not let fetches idle
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=8 * 2**20,
        request_timeout_ms=int(settings.broker_timeout_s * 3000),
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.session_timeout_s * 200),
        **options,
    )


async def stop_quietly(stopping: Awaitable[None], timeout_s: float = 10.0) -> None:
    """Await a client's stop; shutting down, a failure is reported, not raised."""
    try:
        await asyncio.wait_for(stopping, timeout_s)
    except Exception as exc:
        log.warning("while stopping: %s", exc)
