"""`scorestream notify listen`: the demo's receiver verifies, prints and drops repeats."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sinks.exceptions import Refused
from sinks.notify_webhook import StandardWebhookSender
from tests.redis_server import free_port
from tests.sinks.alerts import make_alert

SCORESTREAM = str(Path(sys.executable).parent / "scorestream")
SECRET = "whsec_" + base64.b64encode(b"d" * 32).decode()


async def test_listen_verifies_prints_and_drops_repeats(tmp_path: Path) -> None:
    port = free_port()
    out = (tmp_path / "out.txt").open("wb")
    proc = subprocess.Popen(
        [SCORESTREAM, "notify", "listen", "--secret-env", "DEMO_SECRET", "--port", str(port)],
        env={**os.environ, "DEMO_SECRET": SECRET}, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/alerts"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(50):
                try:
                    await client.get(url)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            alert = make_alert()
            await StandardWebhookSender(client, url, SECRET, 5).send(alert)
            await StandardWebhookSender(client, url, SECRET, 5).send(alert)
            forged = "whsec_" + base64.b64encode(b"x" * 32).decode()
            with pytest.raises(Refused) as caught:
                await StandardWebhookSender(client, url, forged, 5).send(alert)
            assert caught.value.status == 401
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()
    printed = (tmp_path / "out.txt").read_text()
    assert f"[warning] rep-007 nps_negative: {alert.text}  id={alert.alert_id}\n" in printed
    assert printed.count("(repeat: dropped)") == 1
    assert "refused: No matching signature found" in printed
