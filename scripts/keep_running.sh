#!/usr/bin/env bash
# Runs a command again whenever it exits, 5 s later, until this script gets TERM or INT
# (then it stops the command and waits for it): `make demo`'s `restart: unless-stopped`.
# The worker ends itself on a batch it cannot write, and a restart redelivers that batch
# (docs/operations.md, "A batch that cannot be written ends the worker").
set -uo pipefail
child=
stop() {
  if [[ -n "$child" ]]; then kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  exit 0
}
trap stop TERM INT
while true; do
  "$@" &
  child=$!
  wait "$child"
  code=$?
  child=
  echo "keep_running: $1 exited with code $code; starting it again in 5 s" >&2
  sleep 5 &
  wait $!
done
