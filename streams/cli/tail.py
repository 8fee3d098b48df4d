"""``scorestream tail alerts|updates|dlq``: follow an output topic, one line per message.

A subscriber's view of what the worker publishes: coaching alerts, scorecard updates
and dead letters, readable or (``--json``) as one JSON document per line for shell
pipelines. It joins no consumer group and commits nothing: every partition is
assigned at an explicit offset (its end, or its start with ``--from-beginning``), so
tailing never moves anyone's offsets and several tails never share the messages.

Values are read defensively (``.get``): the line shows what a message has and says
``?`` for what it lacks, so a producer's new or missing field never stops the tail.
Blocking confluent-kafka calls only; this runs from the CLI, never on an event loop.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from types import FrameType
from typing import Annotated, Any, Final, NoReturn

import orjson
import typer
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from schemas import topics
from schemas.settings import Settings
from streams.cli import load_settings
from streams.runtime import connections
from streams.runtime.exceptions import StreamsError
from streams.views.formatting import one_line as _text
from streams.views.formatting import signed


class Stream(StrEnum):
    ALERTS = "alerts"
    UPDATES = "updates"
    DLQ = "dlq"


TOPIC_OF_STREAM: Final[dict[Stream, str]] = {
    Stream.ALERTS: topics.ALERTS,
    Stream.UPDATES: topics.UPDATES,
    Stream.DLQ: topics.DLQ,
}

METADATA_TIMEOUT_S: Final = 10.0
"""How long the broker has to answer before the command says it is down."""

POLL_S: Final = 0.5
"""Longest blocking poll: Ctrl-C and SIGTERM are seen within this."""


class _Stop(Exception):
    """SIGTERM: end like Ctrl-C."""


def tail(
    stream: Annotated[Stream, typer.Argument(help="alerts, updates or dlq (dead letters).")],
    from_beginning: Annotated[
        bool,
        typer.Option("--from-beginning", help="Start at the oldest kept message, not the end."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Each message's value as one JSON line.")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many messages.")] = None,
) -> None:
    """Follow scorecards.alerts, scorecards.updates or crm.dlq, a line per message, until Ctrl-C.

    Joins no consumer group and commits nothing. Status lines go to stderr, so
    `scorestream tail alerts --json | jq .` sees only the messages.
    """

    settings = load_settings()
    topic = TOPIC_OF_STREAM[stream]
    render = _json_line if as_json else _READABLE[stream]
    try:
        with _stop_on_sigterm(), _consumer(settings) as consumer:
            partitions = _assign(consumer, settings.kafka_bootstrap, topic, from_beginning)
            where = "the beginning" if from_beginning else "the end"
            typer.echo(
                f"tailing {topic} ({partitions} partitions) from {where}; Ctrl-C to stop",
                err=True,
            )
            for count, message in enumerate(_messages(consumer), start=1):
                line = render(message)
                if line is not None:
                    _print(line)
                if limit is not None and count >= limit:
                    break
    except (KeyboardInterrupt, _Stop):
        pass
    except BrokenPipeError:
        # `tail ... | head -3`: the reader left, a normal end. Point stdout at devnull so
        # the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@contextmanager
def _consumer(settings: Settings) -> Iterator[Consumer]:
    """A consumer the broker answered; down, refusing us or untrusted ends the command."""
    try:
        consumer = connections.kafka_consumer(
            settings,
            {
                # Required by the client even with assign(); never joined, never committed.
                "group.id": topics.throwaway_group("tail"),
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "client.id": "scorestream-tail",
            },
            timeout_s=METADATA_TIMEOUT_S,
        )
    except StreamsError as exc:
        _fail(str(exc))
    try:
        yield consumer
    finally:
        consumer.close()


def _assign(consumer: Consumer, bootstrap: str, topic: str, from_beginning: bool) -> int:
    """Assign every partition of ``topic`` at an explicit offset; returns how many.

    Offsets come from the watermarks now, not from OFFSET_END resolved later, so a
    message produced after the "tailing" line is printed is always shown.
    """
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            _fail(
                f"topic {topic} does not exist on {bootstrap};"
                " create it with `scorestream topics create`"
            )
        assignment = []
        for partition in sorted(found.partitions):
            tp = TopicPartition(topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=METADATA_TIMEOUT_S)
            assignment.append(TopicPartition(topic, partition, low if from_beginning else high))
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        _fail(
            f"Kafka at {bootstrap} did not answer within {METADATA_TIMEOUT_S:g}s ({error});"
            " start it with `make up`"
        )
    consumer.assign(assignment)
    return len(assignment)


def _messages(consumer: Consumer) -> Iterator[Message]:
    """Messages as they arrive, forever; broker trouble is reported once per kind on stderr."""
    last_error: int | None = None
    while True:
        message = consumer.poll(POLL_S)
        if message is None:
            continue
        error = message.error()
        if error is None:
            last_error = None
            yield message
        elif error.code() != KafkaError._PARTITION_EOF and error.code() != last_error:
            last_error = error.code()
            typer.echo(f"warning: {error.str()} (still trying)", err=True)


def _print(line: str) -> None:
    # Flushed per line: a pipeline's next stage sees each message as it arrives.
    typer.echo(line)
    sys.stdout.flush()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the tail like Ctrl-C (exit 0), e.g. when a script or supervisor stops it."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- rendering -------------------------------------------------------------------------


def _json_line(message: Message) -> str | None:
    """The value re-encoded on one line; a value that is not JSON is reported on stderr."""
    try:
        return orjson.dumps(orjson.loads(message.value() or b"")).decode()
    except orjson.JSONDecodeError:
        typer.echo(f"warning: {_where(message)}: value is not JSON, skipped", err=True)
        return None


def _body(message: Message) -> dict[str, Any] | None:
    try:
        body = orjson.loads(message.value() or b"")
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _readable(
    format_body: Callable[[dict[str, Any]], str],
) -> Callable[[Message], str]:
    def render(message: Message) -> str:
        body = _body(message)
        if body is None:
            raw = (message.value() or b"")[:80].decode("utf-8", "replace")
            return f"{_time(message)}  {_where(message)}  (not a JSON object) {_text(raw)}"
        return f"{_time(message)}  {format_body(body)}"

    return render


def format_alert(body: dict[str, Any], *, colour: bool = False) -> str:
    """``SEVERITY  rep (team)  rule [window]  text``; ``colour``: severity in its colour."""
    severity = f"{_text(body.get('severity')).upper():<8}"
    if colour:
        tint = _SEVERITY_COLOURS.get(severity.strip().lower())
        severity = typer.style(severity, fg=tint, bold=True)
    return (
        f"{severity}  {_who(body)}  {_text(body.get('rule'))} [{_text(body.get('window'))}]"
        f"  {_text(body.get('text'))}"
    )


def format_update(body: dict[str, Any]) -> str:
    """``rep (team)  window  overall 71.2 (+3.4)  cause deal_won e-1``."""
    overall = body.get("overall")
    change = body.get("change")
    # No change at all: the rep's first scorecard. A change without a number: unknown.
    delta = signed(_float(change.get("overall")), none="?") if isinstance(change, dict) else "new"
    cause = body.get("cause")
    cause_text = (
        f"{_text(cause.get('kind'))} {_text(cause.get('event_id'))}"
        if isinstance(cause, dict)
        else _text(cause)
    )
    return (
        f"{_who(body)}  {_text(body.get('window'))}  overall {_number(overall)}"
        f" ({delta})  cause {cause_text}"
    )


def format_dead_letter(body: dict[str, Any]) -> str:
    """``topic/partition@offset  key=...  reason: detail  | original (shortened)``."""
    where = f"{_text(body.get('topic'))}/{_text(body.get('partition'))}@{_text(body.get('offset'))}"
    original = body.get("original_text")
    shown = "" if original is None else f"  | {_shorten(_text(original), 60)}"
    reason = f"{_text(body.get('reason'))}: {_text(body.get('detail'))}"
    return f"{where}  key={_text(body.get('key'))}  {reason}{shown}"


_READABLE: Final[dict[Stream, Callable[[Message], str]]] = {
    # Colour codes are dropped by typer.echo when stdout is not a terminal.
    Stream.ALERTS: _readable(lambda body: format_alert(body, colour=True)),
    Stream.UPDATES: _readable(format_update),
    Stream.DLQ: _readable(format_dead_letter),
}

_SEVERITY_COLOURS: Final = {"critical": "red", "warning": "yellow", "info": "cyan"}


def _who(body: dict[str, Any]) -> str:
    team = body.get("team_id")
    rep = body.get("rep_id")
    if rep is None:
        return "?" if team is None else f"team {_text(team)}"
    return _text(rep) if team is None else f"{_text(rep)} ({_text(team)})"


def _time(message: Message) -> str:
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE:
        return "-------------------"
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _where(message: Message) -> str:
    return f"{message.topic()}/{message.partition()}@{message.offset()}"


def _number(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "?"


def _float(value: Any) -> float | None:
    return value if isinstance(value, int | float) else None


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
