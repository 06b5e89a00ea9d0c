"""The email channel: one mail per message over SMTP, STARTTLS (or TLS from the first byte) and
a login when a username is set; every network step has the delivery time limit.

The mail's Message-ID is made of the idempotency key: the same alerts sent again (after a
crash) carry the same Message-ID, which mail systems use to recognise the copy.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from robotwatch.alerts.delivery import DeliveryError
from robotwatch.alerts.payloads import AlertMessage
from robotwatch.alerts.settings import EmailChannel
from robotwatch.config import SettingsError


def mail_of(message: AlertMessage, channel: EmailChannel) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.to)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = f"<{message.idempotency_key}@robotwatch>"
    mail["X-Robotwatch-Robot"] = message.robot
    mail["X-Robotwatch-Kind"] = message.kind
    ids = "\n".join(f"  {i}" for i in message.verdict_ids[:50])
    more = f"\n  ... and {len(message.verdict_ids) - 50} more" if len(message.verdict_ids) > 50 else ""
    footer = f"robotwatch alerts · model {message.model_id or '?'}\nverdicts:\n{ids}{more}"
    mail.set_content(f"{message.text}\n\n-- \n{footer}\n")
    return mail


class EmailSender:
    def __init__(self, name: str, channel: EmailChannel, timeout_s: float) -> None:
        self.name, self.channel, self.timeout_s = name, channel, timeout_s
        self.password = channel.password.get_secret_value() if channel.password else None
        if channel.password_env:
            self.password = os.environ.get(channel.password_env)
            if self.password is None:
                raise SettingsError(
                    f"channels.{name}.password_env = {channel.password_env!r}: "
                    "that environment variable is not set"
                )
        self.context = ssl.create_default_context(cafile=str(channel.ca_file) if channel.ca_file else None)

    async def send(self, message: AlertMessage) -> None:
        await asyncio.to_thread(self._send, mail_of(message, self.channel))

    def _send(self, mail: EmailMessage) -> None:
        c = self.channel
        where = f"{c.host}:{c.port}"
        try:
            smtp = (
                smtplib.SMTP_SSL(c.host, c.port, timeout=self.timeout_s, context=self.context)
                if c.security == "tls"
                else smtplib.SMTP(c.host, c.port, timeout=self.timeout_s)
            )
            with smtp:
                smtp.ehlo()
                if c.security == "starttls":
                    smtp.starttls(context=self.context)
                    smtp.ehlo()
                if c.username:
                    smtp.login(c.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc} (security = 'none' for a relay without TLS)", True) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(f"{where}: recipients refused: {exc.recipients}", min(codes) >= 500) from None
        except smtplib.SMTPResponseException as exc:  # login, sender, data: 5xx is final, 4xx may pass
            said = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            raise DeliveryError(f"{where}: {exc.smtp_code} {said}", exc.smtp_code >= 500) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"{where}: certificate not trusted ({exc.verify_message}); see ca_file", True
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None
