"""E-mail over SMTP with aiosmtplib: a plain-text and an HTML part, STARTTLS and login.

The ``Message-ID`` is made from the alert's id and the channel, so a repeat after a crash
carries the same id as the first (mail clients and archives can thread or drop it). SMTP's
4xx replies and lost connections are ``RetryLater``; 5xx replies (an unknown mailbox, a
refused login) are ``Refused``: sending the same mail again would get the same answer.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from html import escape

import aiosmtplib

from schemas.outputs import CoachingAlert
from schemas.routes import EmailChannel
from sinks.exceptions import Refused, RetryLater
from sinks.notify_text import digest_id, digest_title, facts, rep_url, title


def _envelope(channel: EmailChannel, subject: str, msg_id: str, channel_name: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject[:200]
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Message-ID"] = f"<{msg_id}.{channel_name}@scorestream>"
    return message


def email_message(
    alert: CoachingAlert, channel: EmailChannel, page_url: str | None, channel_name: str
) -> EmailMessage:
    link = rep_url(alert, page_url)
    message = _envelope(channel, f"{title(alert)}: {alert.text}", alert.alert_id, channel_name)
    rows = facts(alert)
    plain = [alert.text, "", *(f"{label}: {value}" for label, value in rows)]
    if link is not None:
        plain += ["", f"Scorecard: {link}"]
    plain += ["", f"alert {alert.alert_id}"]
    message.set_content("\n".join(plain))
    cells = "".join(
        f"<tr><th align='left'>{escape(label)}</th><td>{escape(value)}</td></tr>"
        for label, value in rows
    )
    anchor = "" if link is None else f"<p><a href='{escape(link)}'>Open the scorecard</a></p>"
    html = (
        f"<html><body><h2>{escape(title(alert))}</h2><p>{escape(alert.text)}</p>"
        f"<table>{cells}</table>{anchor}"
        f"<p style='color:#888'>alert {escape(alert.alert_id)}</p></body></html>"
    )
    message.add_alternative(html, subtype="html")
    return message


def digest_message(
    alerts: list[CoachingAlert], channel: EmailChannel, page_url: str | None, channel_name: str
) -> EmailMessage:
    """The day's alerts in one mail: a line (plain) or an item (HTML) each."""
    message = _envelope(channel, digest_title(alerts), digest_id(alerts), channel_name)
    plain, items = [], []
    for alert in alerts:
        link = rep_url(alert, page_url)
        plain += [title(alert), f"  {alert.text}", *([f"  {link}"] if link else []), ""]
        who = escape(alert.rep_id) if link is None else (
            f"<a href='{escape(link)}'>{escape(alert.rep_id)}</a>")  # fmt: skip
        items.append(f"<li><strong>{escape(title(alert))}</strong><br>{who}:"
                     f" {escape(alert.text)}</li>")  # fmt: skip
    message.set_content("\n".join(plain))
    message.add_alternative(
        f"<html><body><h2>{escape(digest_title(alerts))}</h2><ul>{''.join(items)}</ul>"
        "</body></html>", subtype="html",
    )  # fmt: skip
    return message


class EmailSender:
    def __init__(
        self,
        channel: EmailChannel,
        channel_name: str,
        page_url: str | None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._channel, self._name, self._page_url = channel, channel_name, page_url
        self._username, self._password = username, password
        ca = channel.ca_file
        self._tls = None if ca is None else ssl.create_default_context(cafile=str(ca))

    async def send(self, alert: CoachingAlert) -> None:
        await self._send(email_message(alert, self._channel, self._page_url, self._name))

    async def send_digest(self, alerts: list[CoachingAlert]) -> None:
        await self._send(digest_message(alerts, self._channel, self._page_url, self._name))

    async def _send(self, message: EmailMessage) -> None:
        channel = self._channel
        try:
            await aiosmtplib.send(
                message, hostname=channel.host, port=channel.port, start_tls=channel.starttls,
                username=self._username, password=self._password, timeout=channel.timeout_s,
                tls_context=self._tls,
            )  # fmt: skip
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise _answer(first.code, first.message) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _answer(exc.code, exc.message) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise RetryLater(f"SMTP {channel.host}:{channel.port}: {type(exc).__name__}") from None


def _answer(code: int, text: str) -> Refused | RetryLater:
    if 400 <= code < 500:
        return RetryLater(f"SMTP answered {code} {text}")
    return Refused(code, text)
