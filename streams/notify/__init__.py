"""``scorestream notify``: coaching alerts from ``scorecards.alerts`` to the channels the
routing file names (Standard Webhooks, Slack, Teams, e-mail), none lost, none sent twice
outside the window between a receiver's answer and its record in Redis.

``service`` consumes and commits, ``lanes`` sends to one channel at a time and records,
``redrive`` sends parked alerts later, ``channels`` builds the senders of ``sinks/``,
``web`` serves /healthz and /metrics.
"""
