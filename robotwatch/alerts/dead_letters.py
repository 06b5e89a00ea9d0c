"""A message that could not be delivered, as it goes to the alerts' dead-letter topic: the
AlertMessage as JSON (what the channel would have said, every verdict id in it), and in the
headers why, to which channel, after how many tries, and where its verdicts came from."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError

from robotwatch.alerts.delivery import Outcome
from robotwatch.alerts.grouping import Group
from robotwatch.alerts.payloads import AlertMessage
from robotwatch.alerts.settings import AlertSettings

log = logging.getLogger("robotwatch.alerts")
TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError)
MAX_BACKOFF_S = 10.0

MAX_HEADER_BYTES = 1024
# A letter the broker refuses as too large goes again with this many details and ids.
FEW_DETAILS = 5
FEW_IDS = 1000


@dataclass
class DeadLetter:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    shortened: bool = False


def dead_letter(group: Group, message: AlertMessage, outcome: Outcome, source_topic: str) -> DeadLetter:
    def cut(text: str) -> bytes:
        return text.encode()[:MAX_HEADER_BYTES]

    headers = [
        ("reason_kind", b"refused" if outcome.refused else b"failed"),
        ("reason", cut(outcome.reason or "")),
        ("channel", cut(group.channel)),
        ("attempts", str(outcome.attempts).encode()),
        ("robot", cut(group.robot)),
        ("source_topic", cut(source_topic)),
        ("source_partition", str(group.tp.partition).encode() if group.tp is not None else b""),
        ("source_offsets", cut(",".join(map(str, group.offsets)))),
    ]
    return DeadLetter(group.robot.encode(), message.to_bytes(), headers)


def shortened(letter: DeadLetter, message: AlertMessage) -> DeadLetter:
    smaller = message.model_copy(
        update={"details": message.details[:FEW_DETAILS], "verdict_ids": message.verdict_ids[:FEW_IDS]}
    )
    return DeadLetter(
        letter.key, smaller.to_bytes(), [*letter.headers, ("truncated", b"true")], shortened=True
    )


async def send_dead_letter(
    producer: AIOKafkaProducer, settings: AlertSettings, group: Group, message: AlertMessage, outcome: Outcome
) -> None:
    """Until the broker has it (acks=all): its offsets are committed only then. A shutdown
    cancels this; the alerts are then read and tried again after the restart."""
    letter = dead_letter(group, message, outcome, settings.anomalies_topic)
    backoff = 0.5
    while True:
        try:
            await asyncio.wait_for(
                producer.send_and_wait(
                    settings.dead_letter_topic, value=letter.value, key=letter.key, headers=letter.headers
                ),
                settings.broker_timeout_s,
            )
            log.warning("%s: %r went to %s", group.channel, message.title, settings.dead_letter_topic)
            return
        except TOO_LARGE as exc:
            if letter.shortened:
                log.error(
                    "%s: dead letter of %r too large even shortened; dropped: %s",
                    group.channel,
                    message.title,
                    exc,
                )
                return
            letter = shortened(letter, message)
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "dead letter to %s failed (retrying in %.1f s): %s", settings.dead_letter_topic, backoff, exc
            )
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_S)
