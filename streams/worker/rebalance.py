"""faust's Kafka consumer, made to lose no message when partitions move between workers.

faust drops messages it has fetched in a rebalance: those in the streams' buffers, which it
clears when the flow resumes, and the rest of a fetch cut short. It counts on one step to
read them again: once the tables are recovered it seeks every partition back to the group's
committed offset (``Consumer.perform_seek``). That step has two holes, both seen when one
worker took over the partitions of another that was killed
(``tests/integration/test_worker_scale_out.py``: events missing from the cards):

- aiokafka seeks only the partitions whose committed offset is above 0. A partition the
  group never committed (its owner died before its first commit, every 2.8 s) stays where
  the dropped fetch left it: a run (its offset lookups slowed down to widen the window)
  started a crm.calls partition at offset 531, not 65.
- faust seeks while messages still flow into the buffers: one fetched from the new
  position before the buffers are cleared is dropped with no seek after it (likely how a
  run at normal speed lost one NPS response).

So this consumer stops the flow before it seeks (faust clears the buffers and resumes the
flow right after) and sends a partition without a committed offset back to offset 0, where
the group's first consumer started. A message read twice is harmless: the worker's state
recognises a redelivered event.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka


class RewindingConsumer(aiokafka.Consumer):
    async def perform_seek(self) -> None:
        self.stop_flow()  # nothing more reaches the buffers; faust resumes after clearing them
        await super().perform_seek()
        changelogs = self.app.tables.changelog_topics
        for tp in self.assignment():
            if tp.topic not in changelogs and self._committed_offset.get(tp) is None:
                # Offset 0, not aiokafka's seek_to_beginning, which waits for the fetcher to
                # reset the position: faust runs this in its fetch loop too, and with it the
                # changelog recovery got no record for minutes in two of three runs. Where
                # retention removed offset 0, the fetch resets to the earliest (the default).
                with suppress(IllegalStateError):  # a new rebalance took it; its recovery seeks
                    await self.seek(tp, 0)


class RewindingTransport(aiokafka.Transport):
    Consumer = RewindingConsumer


class App(faust.App):
    """A faust app whose consumer is the ``RewindingConsumer``."""

    def _new_transport(self) -> Any:
        return RewindingTransport(self.conf.broker_consumer, self)
