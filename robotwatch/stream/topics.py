"""Creating the service's topics when asked (`serve --create-topics`)."""

from __future__ import annotations

import contextlib
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from robotwatch.stream.settings import ServeSettings


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
