"""The webhook channel: robotwatch's own JSON (AlertMessage), or a Slack or Teams message.

Every request carries `Idempotency-Key` (the same for the same alerts on the same channel): a
receiver that keeps the keys it saw drops the copy sent again after a crash or a timeout.
"""

from __future__ import annotations

from robotwatch.alerts.http import post_json
from robotwatch.alerts.payloads import (
    AdaptiveCard,
    AlertMessage,
    SlackBlock,
    SlackMessage,
    SlackText,
    TeamsAttachment,
    TeamsMessage,
    TeamsTextBlock,
)
from robotwatch.alerts.settings import WebhookChannel

SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_body(message: AlertMessage) -> SlackMessage:
    footer = f"robotwatch · {message.count} alert(s) · model {message.model_id or '?'}"
    return SlackMessage(
        text=message.title,  # the notification's text, and what clients without blocks show
        blocks=[
            SlackBlock(
                type="header", text=SlackText(type="plain_text", text=_cut(message.title, SLACK_HEADER_CHARS))
            ),
            *(
                SlackBlock(
                    type="section", text=SlackText(type="mrkdwn", text=_cut(line, SLACK_SECTION_CHARS))
                )
                for line in message.text.splitlines()[:40]
            ),
            SlackBlock(type="context", elements=[SlackText(type="mrkdwn", text=footer)]),
        ],
    )


def teams_body(message: AlertMessage) -> TeamsMessage:
    blocks = [TeamsTextBlock(text=message.title, weight="Bolder", size="Medium")]
    blocks += [TeamsTextBlock(text=line) for line in message.text.splitlines()]
    return TeamsMessage(attachments=[TeamsAttachment(content=AdaptiveCard(body=blocks))])


def body(message: AlertMessage, fmt: str) -> bytes:
    if fmt == "slack":
        return slack_body(message).model_dump_json(exclude_none=True).encode()
    if fmt == "teams":
        return teams_body(message).model_dump_json(by_alias=True).encode()
    return message.to_bytes()


class WebhookSender:
    def __init__(self, name: str, channel: WebhookChannel, timeout_s: float) -> None:
        self.name, self.channel, self.timeout_s = name, channel, timeout_s

    async def send(self, message: AlertMessage) -> None:
        headers = {"Idempotency-Key": message.idempotency_key, **self.channel.headers}
        await post_json(self.channel.url, body(message, self.channel.format), headers, self.timeout_s)
