"""Sending one message to one channel: a time limit on every try, retries with a doubling
backoff, and an outcome that says whether it arrived and, if not, why and whether trying
again could ever help (a refusal: HTTP 4xx, a refused login, a refused recipient)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from robotwatch.alerts.payloads import AlertMessage
from robotwatch.alerts.settings import DeliverySettings

log = logging.getLogger("robotwatch.alerts")


class DeliveryError(Exception):
    """A try that failed; `refused`: the other side said no, and will say it again."""

    def __init__(self, reason: str, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


class Sender(Protocol):
    name: str

    async def send(self, message: AlertMessage) -> None:
        """Deliver once or raise DeliveryError."""
        ...


@dataclass
class Outcome:
    delivered: bool
    attempts: int
    reason: str | None = None
    refused: bool = False


async def deliver(sender: Sender, message: AlertMessage, settings: DeliverySettings) -> Outcome:
    backoff = settings.backoff_s
    reason = ""
    for attempt in range(1, settings.attempts + 1):
        try:
            # the senders put the same limit on their sockets; this one also bounds DNS and the
            # thread they run in (a try that is cut off may still arrive: the idempotency key
            # lets the receiver drop the copy)
            await asyncio.wait_for(sender.send(message), settings.timeout_s * 1.5)
            return Outcome(True, attempt)
        except DeliveryError as exc:
            reason = str(exc)
            if exc.refused:
                log.error("%s refused %r: %s", sender.name, message.title, reason)
                return Outcome(False, attempt, reason, refused=True)
        except TimeoutError:
            reason = f"no answer within {settings.timeout_s * 1.5:g} s"
        if attempt < settings.attempts:
            log.warning(
                "%s: try %d of %d failed (%s); again in %.1f s",
                sender.name,
                attempt,
                settings.attempts,
                reason,
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, settings.max_backoff_s)
    log.error(
        "%s: %r not delivered after %d tries: %s", sender.name, message.title, settings.attempts, reason
    )
    return Outcome(False, settings.attempts, reason)
