"""The lanes of a routing file: each channel's sender from ``sinks/``, with its secrets."""

from __future__ import annotations

import httpx

from schemas.routes import ChannelSecrets, EmailChannel, RoutingFile, WebhookChannel
from sinks.notify_email import EmailSender
from sinks.notify_slack import SlackSender
from sinks.notify_teams import TeamsSender
from sinks.notify_webhook import StandardWebhookSender
from sinks.redis_notify import NotifyStore
from streams.notify.lanes import AlertSender, ChannelLane
from streams.notify.metrics import NotifyMetrics


def build_lanes(
    routes: RoutingFile,
    secrets: dict[str, ChannelSecrets],
    store: NotifyStore,
    metrics: NotifyMetrics,
    client: httpx.AsyncClient,
) -> dict[str, ChannelLane]:
    """One lane per channel; ``secrets`` come from ``resolve_secrets`` (checked already)."""
    lanes: dict[str, ChannelLane] = {}
    page = routes.rep_page_url
    for name, channel in routes.channels.items():
        secret = secrets[name]
        sender: AlertSender
        if isinstance(channel, EmailChannel):
            password = None if secret.password is None else secret.password.get_secret_value()
            sender = EmailSender(channel, name, page, secret.username, password)
        else:
            assert secret.url is not None  # resolve_secrets refuses a channel without one
            url = secret.url.get_secret_value()
            if isinstance(channel, WebhookChannel):
                assert secret.secret is not None
                key = secret.secret.get_secret_value()
                sender = StandardWebhookSender(client, url, key, channel.timeout_s)
            elif channel.type == "slack":
                sender = SlackSender(client, url, channel.timeout_s, page)
            else:
                sender = TeamsSender(client, url, channel.timeout_s, page)
        lanes[name] = ChannelLane(name, sender, store, metrics, retry_for_s=channel.retry_for_s)
    return lanes
