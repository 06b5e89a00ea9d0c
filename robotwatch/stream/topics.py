"""The topics: creating serve's when asked (`serve --create-topics`), and reading every
partition of one without joining a group's rebalances (record, gateway check)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from robotwatch.stream.settings import ServeSettings
from rwcore.errors import UserError


def required_topics(settings: ServeSettings) -> list[str]:
    """The topics serve writes to: without them it cannot do its job."""
    names = [settings.anomalies_topic, settings.dead_letter_topic]
    if settings.scores_topic:
        names.append(settings.scores_topic)
    return names


def topic_names(settings: ServeSettings) -> list[str]:
    """Every topic serve uses: what --create-topics creates."""
    names = [settings.signals_topic, *required_topics(settings)]
    if settings.vision_model is not None:
        names.append(settings.frames_topic)
    return names


def missing_topics(wanted: list[str], existing: set[str]) -> list[str]:
    return [t for t in dict.fromkeys(wanted) if t not in existing]


async def ensure_topics(settings: ServeSettings, client_options: dict[str, Any]) -> None:
    admin = AIOKafkaAdminClient(**client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in topic_names(settings) if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another instance was faster
                await admin.create_topics(
                    [NewTopic(n, settings.topic_partitions, settings.replication_factor) for n in missing]
                )
    finally:
        await admin.close()


async def assign_all(consumer: AIOKafkaConsumer, topic: str, timeout_s: float) -> list[TopicPartition]:
    """Assign every partition of `topic` to the started `consumer`. With a group id, reading
    starts at the group's committed offsets (else at auto_offset_reset); no rebalance is
    waited for, so one process per group at a time."""
    topics = await asyncio.wait_for(consumer.topics(), timeout_s)
    if topic not in topics:
        raise UserError(f"topic {topic} does not exist on the cluster")
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    return partitions
