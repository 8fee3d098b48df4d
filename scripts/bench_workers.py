"""The workers of a benchmark run: N `scorestream worker` processes in one consumer group,
each with its own web port, data dir and log, watched through their /metrics until
every input message is handled and its cards are in Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from bench_common import BENCH_DIR, ROOT, BenchError, progress
from bench_kafka import APP_ID, InputGuard
from bench_metrics import LATENCY, Scrape, scrape

FIRST_WEB_PORT: Final = 6199
DATA_DIR: Final = BENCH_DIR / "worker"
SCORESTREAM: Final = str(Path(sys.executable).parent / "scorestream")
SCRAPE_EVERY_S: Final = 0.2
SETTLE_S: Final = 1.0
"""No Redis write for this long after the lag reached 0: the last cards are written (the
worker writes every 50 ms; a big batch's write takes longer)."""
STOP_GRACE_S: Final = 30.0

PROFILED_WORKER: Final = """
import os, signal, sys
from pyinstrument import Profiler
from streams.cli.main import main

out = sys.argv[1]
sys.argv = ["scorestream", *sys.argv[2:]]
profiler = Profiler(interval=0.005, async_mode="disabled")

def dump(*_):
    global profiler
    if profiler.is_running:
        session = profiler.stop()
        session.save(out + ".tmp")
        os.replace(out + ".tmp", out)
    else:  # the next phase's profile, from now on
        profiler = Profiler(interval=0.005, async_mode="disabled")
        profiler.start()

signal.signal(signal.SIGHUP, dump)  # mode.Worker takes SIGUSR1 and SIGUSR2 (pdb!)
profiler.start()
main()
"""
"""``scorestream worker`` under pyinstrument (main thread: the agents, tables and web pages).
SIGHUP stops the profiler and saves the session, rendered later so the worker is not held up;
the next SIGHUP starts a new profile (the live phases')."""


def worker_log(index: int) -> Path:
    return BENCH_DIR / f"worker-{index + 1}.log"


@dataclass(frozen=True)
class Workers:
    procs: list[subprocess.Popen[bytes]]
    ports: list[int]

    @property
    def logs(self) -> str:
        return ", ".join(str(worker_log(i)) for i in range(len(self.procs)))

    def scrape(self) -> Scrape | None:
        """All workers' metrics summed; None while one of them does not answer."""
        total = Scrape()
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                raise BenchError(f"worker {index + 1} exited with {proc.returncode}; see"
                                 f" {worker_log(index)}")  # fmt: skip
            one = scrape(self.ports[index])
            if one is None:
                return None
            total = total + one
        return total

    def cpu_seconds(self) -> float:
        """User and system CPU time the workers used so far."""
        return cpu_seconds(self.procs)

    def main_thread_cpu_seconds(self) -> float:
        """The same, of the workers' main threads only (the event loop: the agents, the
        shell, Redis and the producer); the rest is mostly faust's consumer thread."""
        return cpu_seconds(self.procs, main_thread=True)

    def peak_rss_mb(self) -> list[float]:
        """Each worker's VmHWM."""
        out = []
        for proc in self.procs:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                hwm = next(line for line in status if line.startswith("VmHWM:"))
                out.append(int(hwm.split()[1]) / 1024)
            except (OSError, StopIteration):
                out.append(float("nan"))
        return out


def cpu_seconds(procs: Iterable[subprocess.Popen[bytes]], main_thread: bool = False) -> float:
    """User and system CPU time ``procs`` used so far: all their threads, or only each one's
    main thread (whose thread id is the process's)."""
    ticks = 0
    for proc in procs:
        stat = f"/proc/{proc.pid}/task/{proc.pid}/stat" if main_thread else f"/proc/{proc.pid}/stat"
        with suppress(OSError):
            # Fields after the command's parenthesis: utime and stime are the 12th and 13th.
            fields = Path(stat).read_text().rpartition(")")[2].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def data_dir(index: int) -> Path:
    return DATA_DIR / f"worker-{index + 1}"


@contextmanager
def running_workers(count: int, env: dict[str, str], session: Path | None) -> Iterator[Workers]:
    """``count`` workers as subprocesses, stopped with SIGTERM (SIGKILL after 30 s) on the
    way out. With ``session`` (one worker only), under pyinstrument, saving it on SIGHUP."""
    ports = [FIRST_WEB_PORT + i for i in range(count)]
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise BenchError(f"port {port} is taken (a leftover bench worker?)")
    with ExitStack() as stack:
        procs = []
        for index, port in enumerate(ports):
            args = [
                "worker", "--clock", "event", "--app-id", APP_ID,
                "--data-dir", str(data_dir(index)), "--web-port", str(port),
            ]  # fmt: skip
            command = (
                [SCORESTREAM, *args]
                if session is None
                else [sys.executable, "-c", PROFILED_WORKER, str(session), *args]
            )
            log: IO[bytes] = stack.enter_context(worker_log(index).open("wb"))
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            stack.callback(stop, proc)
            procs.append(proc)
        yield Workers(procs, ports)


def stop(proc: subprocess.Popen[bytes], name: str = "the worker") -> None:
    if proc.poll() is not None:
        return
    progress(f"stopping {name} (pid {proc.pid})")
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        progress(f"the worker ignored SIGTERM for {STOP_GRACE_S:g}s: killing it")
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Drained:
    first_s: float | None
    """Seconds from the start of the wait to the first scrape that counted a message."""
    done_s: float
    """Seconds from the start of the wait to the first scrape with everything handled."""
    scrape: Scrape


def wait_drained(
    workers: Workers,
    target: float,
    partitions: Iterable[tuple[str, int]],
    timeout_s: float,
    guard: InputGuard,
) -> Drained:
    """Poll /metrics until ``target`` input messages are handled (counted, every one of
    ``partitions`` held with no lag) and their cards written to Redis."""
    wanted = list(partitions)
    begin = last_report = time.monotonic()
    first: float | None = None
    last: Scrape | None = None
    while True:
        now = time.monotonic()
        current = workers.scrape()
        if current is not None:
            last = current
            if first is None and current.events_in > 0:
                first = now - begin
            if current.events_in >= target and current.drained(wanted):
                written_at, written = settle(workers, now, current)
                return Drained(first, written_at - begin, written)
        if now - last_report >= 5:
            last_report = now
            seen = "no answer yet" if last is None else f"{last.events_in:,.0f}/{target:,.0f}"
            behind = sum(last.lag.values()) if last else "?"
            progress(f"  workers: {seen} messages, lag {behind}")
            guard.check()
        if now - begin > timeout_s:
            raise BenchError(f"the workers did not drain in {timeout_s:g}s; see {workers.logs}")
        time.sleep(SCRAPE_EVERY_S)


def settle(workers: Workers, at: float, scraped: Scrape) -> tuple[float, Scrape]:
    """When the last cards reached Redis: the first scrape after which the latency histogram
    (observed after each Redis write) does not move for SETTLE_S."""
    since, latest = at, scraped
    while time.monotonic() - since < SETTLE_S:
        time.sleep(SCRAPE_EVERY_S)
        current = workers.scrape()
        if current is None:
            raise BenchError(f"a worker stopped answering; see {workers.logs}")
        if current.count(LATENCY) != latest.count(LATENCY):
            since, latest = time.monotonic(), current
    return since, latest


def restart_profile(workers: Workers) -> None:
    """Profile the profiled worker again from now on (after ``save_profile``)."""
    workers.procs[0].send_signal(signal.SIGHUP)


def save_profile(workers: Workers, session: Path, saved_as: Path) -> None:
    """Stop the profile, wait for the worker to write it to ``session``, move it to
    ``saved_as`` (the next profile is written to ``session`` too)."""
    session.unlink(missing_ok=True)
    workers.procs[0].send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 300
    while not session.exists():
        if time.monotonic() > deadline or workers.procs[0].poll() is not None:
            raise BenchError(f"the profiled worker saved no {session}; see {workers.logs}")
        time.sleep(0.2)
    session.replace(saved_as)


def render_profile(session_file: Path, out: Path) -> None:
    """The saved session as a call tree (``out``) and as self time per function (.flat.txt)."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.load(session_file)
    out.write_text(ConsoleRenderer(unicode=True, short_mode=False).render(session))
    flat = ConsoleRenderer(unicode=True, flat=True, flat_time="self").render(session)
    out.with_name(out.name + ".flat.txt").write_text(flat)


def disk_usage(path: Path) -> int:
    """Bytes on disk (allocated blocks) of the files under ``path``."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_blocks * 512
    return total
