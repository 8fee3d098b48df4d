# Scorestream developer entry points. Every target is idempotent and works on a
# fresh clone: Kafka and Redis run from scripts/ (no Docker), state in .local/.
#
#   make install   .venv with the package and dev tools, versions from requirements-dev.lock
#   make lock      pin every dependency with hashes again after changing pyproject.toml
#   make up        Kafka 4.1 (KRaft) on 127.0.0.1:9092 and Redis on 127.0.0.1:6379
#   make up SECURE=1  also Kafka SASL_SSL on :9094 and Redis TLS on :6380; .local/secure.env
#   make down      stop both (and the test servers)
#   make test      install + test servers (SECURE=1, ports 19092/16379) + Debian's chromium + pytest
#   make demo      install + up + topics + worker, live simulator, web page, ingest gateway, notify + a live leaderboard
#   make bench-replay  replay of a 1,000,000-event log beside a bare orjson loop (EVENTS=N)
#   make bench-score   CPU µs to score one rep, all windows, and a live event's core (200 reps)
#   make bench-ingest  the ingest gateway beside a bare confluent-kafka producer (EVENTS=200000 BATCH=500 CLIENTS=4)
#   make bench     the worker end to end beside its baselines (N=200000 WORKERS=1 BENCH_RATE=2000 DURATION=60)
#   make clean     down + remove .local and .venv

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALL_STAMP := $(VENV)/.install-stamp
RATE ?= 0.5
WINDOW ?= 30d
SERVE_PORT ?= 8000
INGEST_PORT ?= 8010
# The demo's gateway secrets: local and made up (README "Connecting your CRM" uses them).
# A real deployment sets its own in the environment; these are never a default of the code.
DEMO_INGEST_KEY := demo-ingest-key-change-me
DEMO_HUBSPOT_SECRET := demo-hubspot-client-secret
DEMO_SALESFORCE_SECRET := demo-salesforce-secret
NOTIFY_PORT ?= 8030
RECEIVER_PORT ?= 8020
# 1: the secured listeners too (scripts/secure.sh writes .local/secure.env to reach them).
SECURE ?=

.PHONY: help install lock up down kafka-jars browser test demo bench bench-replay bench-ingest bench-score clean

help:
	@sed -n 's/^#   make /make /p' $(firstword $(MAKEFILE_LIST))

install: $(INSTALL_STAMP)

# Re-installs only when pyproject.toml or the lock changes (or the venv is new): every
# dependency at its locked version and hash, then the package itself without resolving.
$(INSTALL_STAMP): pyproject.toml requirements-dev.lock
	@if [[ ! -x $(BIN)/python ]]; then \
	  command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (set PYTHON=...)" >&2; exit 1; }; \
	  echo "creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install -q --no-deps -e '.[dev]'
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "error: pyproject.toml asks for packages requirements-dev.lock lacks: run make lock" >&2; exit 1; }
	@touch $@

# Pins every dependency with hashes (requirements.lock, requirements-dev.lock) after a
# change to pyproject.toml; `make lock ARGS=--upgrade` moves every pin to the newest.
lock:
	scripts/lock.sh $(ARGS)

kafka-jars:
	scripts/kafka.sh jars

up:
	SECURE=$(SECURE) scripts/kafka.sh start
	SECURE=$(SECURE) scripts/redis.sh start

down:
	scripts/kafka.sh stop
	scripts/redis.sh stop
	$(TEST_SERVERS) scripts/kafka.sh stop
	$(TEST_SERVERS) scripts/redis.sh stop

# The browser test drives Debian's chromium (scripts/chromium.sh installs it when missing).
browser:
	scripts/chromium.sh install

# Tests run on a Kafka and a Redis of their own (other ports, other state), so nothing a test
# publishes (a scorecard version, topics, groups, keys) is ever seen by `make demo` or by
# what `make up` serves. Always with the secured listeners: CI runs `make test` on a clean
# clone, and the secured end-to-end and secret-leak tests must run there (they fail, never
# skip, without them).
TEST_KAFKA_PORT ?= 19092
TEST_REDIS_PORT ?= 16379
TEST_SERVERS = KAFKA_PORT=$(TEST_KAFKA_PORT) KAFKA_CONTROLLER_PORT=19093 KAFKA_SECURE_PORT=19094 \
  KAFKA_STATE=$(CURDIR)/.local/test-kafka REDIS_PORT=$(TEST_REDIS_PORT) REDIS_TLS_PORT=16380 \
  REDIS_STATE=$(CURDIR)/.local/test-redis SECURE_ENV_FILE=$(CURDIR)/.local/test-secure.env

test: install browser
	$(TEST_SERVERS) SECURE=1 scripts/kafka.sh start
	$(TEST_SERVERS) SECURE=1 scripts/redis.sh start
	SCORESTREAM_KAFKA_BOOTSTRAP=127.0.0.1:$(TEST_KAFKA_PORT) \
	  SCORESTREAM_REDIS_URL=redis://127.0.0.1:$(TEST_REDIS_PORT)/0 \
	  SECURE_ENV_FILE=$(CURDIR)/.local/test-secure.env $(BIN)/pytest

# The worker and the live simulator run in the background and are stopped however
# the leaderboard ends (Ctrl-C, error): the trap runs on EXIT of this one shell.
# The backfill has a fixed seed and ends at today's midnight, so running the demo
# again the same day adds nothing (the worker drops redelivered event ids). The live
# simulator keeps the backfill's org (--org-seed 1): the same reps in the same teams.
# RATE=0.5 is ~70x a real 20-rep org (~250 CRM events a workday): lively, yet the 30d
# board stays believable for the first half hour (scripts/demo_spread.py measures it).
demo: install up
	$(BIN)/scorestream topics create
	@$(BIN)/scorestream simulate --days 30 --seed 1 --end "$$(date -u +%F)" >.local/demo-backfill.log 2>&1; \
	echo "backfilled 30 days of history (.local/demo-backfill.log)"; \
	scripts/keep_running.sh $(BIN)/scorestream worker --clock wall --data-dir .local/worker >.local/worker.log 2>&1 & worker=$$!; \
	$(BIN)/scorestream simulate --rate $(RATE) --org-seed 1 >.local/simulator.log 2>&1 & sim=$$!; \
	$(BIN)/scorestream serve --port $(SERVE_PORT) >.local/serve.log 2>&1 & web=$$!; \
	SCORESTREAM_INGEST_KEYS=$(DEMO_INGEST_KEY) SCORESTREAM_HUBSPOT_SECRET=$(DEMO_HUBSPOT_SECRET) \
	  SCORESTREAM_SALESFORCE_SECRET=$(DEMO_SALESFORCE_SECRET) \
	  $(BIN)/scorestream ingest --port $(INGEST_PORT) >.local/ingest.log 2>&1 & ingest=$$!; \
	export DEMO_HOOK=http://127.0.0.1:$(RECEIVER_PORT)/alerts \
	  DEMO_HOOK_SECRET=whsec_$$($(BIN)/python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'); \
	$(BIN)/scorestream notify listen --secret-env DEMO_HOOK_SECRET --port $(RECEIVER_PORT) >.local/receiver.log 2>&1 & receiver=$$!; \
	$(BIN)/scorestream notify --routes infra/notify/demo-routes.yaml --port $(NOTIFY_PORT) >.local/notify.log 2>&1 & notify=$$!; \
	trap 'kill $$sim $$worker $$web $$ingest $$notify $$receiver 2>/dev/null || true; wait $$sim $$worker $$web $$ingest $$notify $$receiver 2>/dev/null || true' EXIT; \
	trap 'exit 0' INT TERM; \
	echo "worker pid $$worker (.local/worker.log), simulator pid $$sim at $(RATE)/s; Ctrl-C to stop"; \
	echo "live leaderboard: http://127.0.0.1:$(SERVE_PORT)/  (TV: http://127.0.0.1:$(SERVE_PORT)/?tv=1, API docs: /docs; .local/serve.log)"; \
	echo "coaching alerts, as a webhook receiver gets them: tail -f .local/receiver.log (notify: .local/notify.log)"; \
	echo "CRM webhooks in: http://127.0.0.1:$(INGEST_PORT)/v1/hooks/hubspot (README \"Connecting your CRM\"; .local/ingest.log)"; \
	$(BIN)/scorestream leaderboard --window $(WINDOW) --watch

N ?= 200000
BENCH_RATE ?= 2000
WORKERS ?= 1
DURATION ?= 60
bench: install up
	$(BIN)/python scripts/bench_worker.py --events $(N) --workers $(WORKERS) --rate $(BENCH_RATE) --duration $(DURATION)

EVENTS ?= 1000000
bench-score: install
	$(BIN)/python scripts/bench_score.py

bench-replay: install
	$(BIN)/python scripts/bench_replay.py --events $(EVENTS)

# EVENTS defaults to 1,000,000 above (bench-replay's); the gateway's run is 200,000 unless given.
bench-ingest: EVENTS := $(if $(filter command line environment,$(origin EVENTS)),$(EVENTS),200000)
BATCH ?= 500
CLIENTS ?= 4
bench-ingest: install up
	$(BIN)/python scripts/bench_ingest.py --events $(EVENTS) --batch $(BATCH) --clients $(CLIENTS)

clean: down
	rm -rf .local $(VENV)
