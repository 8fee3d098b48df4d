"""``scorestream notify listen``: a Standard Webhooks receiver that prints what it gets.

For the demo and for trying a routing file without a Slack workspace: it verifies each
request's signature with the secret in ``--secret-env`` (the spec's library, as any
receiver would), drops repeats by ``webhook-id`` and prints one line per alert. Blocking
``http.server``: a CLI tool, not a production receiver.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import typer
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from streams.cli import fail

MAX_BODY_BYTES = 1_000_000


def listen(
    secret_env: Annotated[
        str, typer.Option(help="Variable holding the channel's whsec_ signing secret.")
    ],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8020,
) -> None:
    """Receive signed alerts from a webhook channel and print them (verified, deduped)."""
    secret = os.environ.get(secret_env, "")
    if not secret.startswith("whsec_"):
        fail(f"{secret_env} must hold the channel's whsec_ secret (the one notify signs with)",
             code=2)  # fmt: skip
    webhook = Webhook(secret)
    seen: set[str] = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(413)
                return
            body = self.rfile.read(length)
            try:
                alert = webhook.verify(body, dict(self.headers.items()))
            except (WebhookVerificationError, ValueError) as exc:
                typer.echo(f"refused: {exc} (from {self.client_address[0]})", err=True)
                self._answer(401)
                return
            msg_id = self.headers.get("webhook-id", "")
            with lock:
                repeat = msg_id in seen
                seen.add(msg_id)
            note = "  (repeat: dropped)" if repeat else ""
            typer.echo(f"[{alert.get('severity')}] {alert.get('rep_id')} {alert.get('rule')}:"
                       f" {alert.get('text')}  id={msg_id}{note}")  # fmt: skip
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    typer.echo(f"listening on http://{host}:{port}/ for signed alerts", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
