"""A refused message as it goes to the dead-letter topic: the bytes (cut to a limit, so that a
dead letter can always be sent), and in its headers the reason kind, the reason in words and
where it came from (topic, partition, offset, size)."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from robotwatch.stream.delivery import Outgoing
from robotwatch.stream.rejects import Rejected

MAX_REASON_BYTES = 1024
MAX_KEY_BYTES = 1024
# What is left of a dead letter that the broker refused even cut to the configured limit.
LAST_RESORT_BYTES = 16 * 1024


def dead_letter(
    topic: str, source: TopicPartition, message: ConsumerRecord, refused: Rejected, max_bytes: int
) -> Outgoing:
    value = bytes(message.value or b"")
    key = bytes(message.key)[:MAX_KEY_BYTES] if message.key else None
    headers = [
        ("reason_kind", refused.kind.value.encode()),
        ("reason", str(refused).encode()[:MAX_REASON_BYTES]),
        ("source_topic", source.topic.encode()),
        ("source_partition", str(source.partition).encode()),
        ("source_offset", str(message.offset).encode()),
        ("source_size", str(len(value)).encode()),
    ]

    def cut(limit: int) -> Outgoing:
        truncated = [("truncated", b"true")] if len(value) > limit else []
        return Outgoing(topic, key, value[:limit], headers + truncated)

    letter = cut(max_bytes)
    last_resort = cut(min(max_bytes, LAST_RESORT_BYTES))
    letter.fallback = lambda: last_resort if last_resort.value != letter.value else None
    return letter
