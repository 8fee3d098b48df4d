"""A real HTTP receiver for notify's tests: a threaded server on 127.0.0.1 that answers
from a script (status, headers, delay) and records every request it got.

It poses as a Standard Webhooks receiver, Slack or Teams: the tests read the recorded
bodies and headers and check the documented shapes and signatures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b"ok"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


Script = Callable[[int, bytes, dict[str, str]], Answer]
"""``(request number from 0, body, headers) -> Answer``."""


@dataclass
class Receiver:
    url: str
    requests: list[Received]
    script: Script

    def answered(self, status: int = 200) -> list[Received]:
        return [r for r in self.requests if r.status == status]


def always(answer: Answer) -> Script:
    return lambda n, body, headers: answer


def first(count: int, answer: Answer, then: Answer | None = None) -> Script:
    """``answer`` for the first ``count`` requests, ``then`` (200) after."""
    return lambda n, body, headers: answer if n < count else (then or Answer())


@contextmanager
def receiver(script: Script | None = None) -> Iterator[Receiver]:
    """A receiver on a free port, stopped on exit; ``script`` may be swapped while it runs."""
    lock = threading.Lock()
    state = Receiver("", [], script or always(Answer()))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                number = len(state.requests)
                answer = state.script(number, body, headers)
                state.requests.append(
                    Received(self.path, headers, body, answer.status, time.time())
                )
            if answer.delay_s:
                time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting: what a hung receiver sees

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
