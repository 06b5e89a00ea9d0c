"""The configured channels as senders, by name."""

from __future__ import annotations

from urllib.parse import urlsplit

from robotwatch.alerts.alertmanager import AlertmanagerSender
from robotwatch.alerts.delivery import Sender
from robotwatch.alerts.mail import EmailSender
from robotwatch.alerts.settings import AlertmanagerChannel, AlertSettings, EmailChannel, WebhookChannel
from robotwatch.alerts.webhook import WebhookSender


def build_senders(settings: AlertSettings) -> dict[str, Sender]:
    timeout_s = settings.delivery.timeout_s
    senders: dict[str, Sender] = {}
    for name, channel in settings.channels.items():
        if isinstance(channel, WebhookChannel):
            senders[name] = WebhookSender(name, channel, timeout_s)
        elif isinstance(channel, AlertmanagerChannel):
            senders[name] = AlertmanagerSender(name, channel, timeout_s, settings.critical_severity)
        elif isinstance(channel, EmailChannel):
            senders[name] = EmailSender(name, channel, timeout_s)
    return senders


def describe(settings: AlertSettings) -> list[str]:
    """Each channel in a few words, for the start-up line (no secrets)."""
    out = []
    for name, channel in settings.channels.items():
        if isinstance(channel, WebhookChannel):
            # only the host: a Slack or Teams URL holds its secret in the path
            out.append(f"{name} (webhook, {channel.format}, {urlsplit(channel.url).netloc})")
        elif isinstance(channel, AlertmanagerChannel):
            out.append(f"{name} (Alertmanager {channel.url})")
        else:
            out.append(f"{name} (mail via {channel.host}:{channel.port} to {', '.join(channel.to)})")
    return out
