"""A server whose stop hangs still ends, by its deadline, and says where it waited."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time

import orjson

from streams.runtime.stopping import EXIT_OVERDUE, STARTUP_FAILURE
from tests.http_probe import answers
from tests.redis_server import free_port

HANGING_SERVER = textwrap.dedent("""
    import asyncio, contextlib, sys
    from fastapi import FastAPI
    from streams.runtime.logs import configure_logging
    from streams.runtime.stopping import run_server

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.Event().wait()  # a shutdown step that never ends

    app = FastAPI(lifespan=lifespan)

    @app.get("/up")
    async def up():
        return {}

    configure_logging()
    run_server(app, port=int(sys.argv[1]), log_level="warning", stop_deadline_s=1.0)
""")
WELL_STOPPING_SERVER = HANGING_SERVER.replace("await asyncio.Event().wait()", "")


def _serve_then_stop(script: str) -> tuple[int, bytes, float]:
    """Start ``script``'s server, SIGTERM it once it answers: its exit code, output and how
    long it took to end."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not answers(f"http://127.0.0.1:{port}/up"):
            assert proc.poll() is None and time.monotonic() < deadline, "the server never answered"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, _ = proc.communicate(timeout=20)
        return proc.returncode, out, time.monotonic() - started
    finally:
        proc.kill()


def test_a_server_whose_stop_hangs_ends_by_its_deadline_naming_where_it_waited() -> None:
    code, out, took = _serve_then_stop(HANGING_SERVER)
    assert code == EXIT_OVERDUE, out
    assert 1.0 <= took < 10, took
    logged = [orjson.loads(line) for line in out.splitlines() if line.startswith(b"{")]
    overdue = [line for line in logged if line.get("event") == "stop_overdue"]
    assert len(overdue) == 1, out
    assert any(" lifespan > " in where for where in overdue[0]["waiting"]), overdue[0]


def test_a_server_whose_stop_goes_well_ends_as_signalled() -> None:
    code, out, took = _serve_then_stop(WELL_STOPPING_SERVER)
    assert code == -signal.SIGTERM, out
    assert took < 1.0, took
    assert b"stop_overdue" not in out


def test_a_server_that_cannot_bind_its_port_ends_with_uvicorns_startup_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-c", WELL_STOPPING_SERVER, str(port)], capture_output=True, timeout=30
        )
    assert done.returncode == STARTUP_FAILURE, done
    assert b"address already in use" in done.stderr + done.stdout, done
