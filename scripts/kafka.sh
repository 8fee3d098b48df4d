#!/usr/bin/env bash
# Local Apache Kafka 4.1 (KRaft, one broker+controller node) for development, tests and CI.
#
#   scripts/kafka.sh jars     resolve the broker's jars from Maven Central (infra/kafka/pom.xml)
#   scripts/kafka.sh start    jars + format storage once + start + wait until ready
#   scripts/kafka.sh stop     SIGTERM, wait for a clean shutdown, SIGKILL after a timeout
#   scripts/kafka.sh status   exit 0 when 127.0.0.1:9092 answers a metadata request
#
# KAFKA_PORT and KAFKA_CONTROLLER_PORT (default 9092, 9093) move the listeners; KAFKA_STATE
# (default .local/kafka) moves its data, logs and pid file.
# SECURE=1 adds a SASL_SSL listener (SCRAM-SHA-512) on 127.0.0.1:$KAFKA_SECURE_PORT (default
# 9094) with the certificates and user of scripts/secure.sh; a broker running without it is
# restarted to add it. The plaintext listener stays as it is.
#
# No Docker on our machines: the broker runs from jars with the machine's Java 17.
# Everything it writes lives in the git-ignored .local/kafka/. Every command is idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST=127.0.0.1
# Other ports let a second checkout run its own broker beside this one.
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
BOOTSTRAP="$HOST:$PORT"
SECURE="${SECURE:-}"
SECURE_PORT="${KAFKA_SECURE_PORT:-9094}"
SECURE_DIR="$ROOT/.local/secure"
SCRAM_USER=scorestream

POM="$ROOT/infra/kafka/pom.xml"
BASE_CONFIG="$ROOT/infra/kafka/server.properties"
LOG4J_CONFIG="$ROOT/infra/kafka/log4j2.properties"
SECURE_CONFIG="$ROOT/infra/kafka/secure.properties"
# KAFKA_STATE moves everything but the jars: a test's throwaway broker beside the shared one.
STATE="${KAFKA_STATE:-$ROOT/.local/kafka}"
LIBS="$ROOT/.local/kafka/libs"
LIBS_STAMP="$LIBS/.pom.sha256"
DATA="$STATE/data"
LOGS="$STATE/logs"
CONFIG="$STATE/server.properties"
CLUSTER_ID_FILE="$STATE/cluster-id"
PID_FILE="$STATE/kafka.pid"
SCRAM_MARK="$DATA/.scram-user.sha256"

READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1G}"

log() { echo "kafka: $*" >&2; }
die() { echo "kafka: error: $*" >&2; exit 1; }

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/${1:-$PORT}" 2>/dev/null
}

secure() { [[ "$SECURE" == 1 ]]; }

# True when process $1 is a JVM running kafka.Kafka with our rendered config.
is_our_broker() {
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *java*" kafka.Kafka $CONFIG "* ]]
}

# The pid of our broker (from the pid file, or found by its rendered config path
# when the pid file was lost), empty when it is not running.
broker_pid() {
  local pid dir
  if [[ -f "$PID_FILE" ]]; then
    pid="$(cat "$PID_FILE")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_broker "$pid"; then
      echo "$pid"
      return
    fi
  fi
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    if is_our_broker "$pid"; then
      echo "$pid"
      return
    fi
  done
}

java_opts() {
  # Same logging set-up for the broker and StorageTool (else log4j2 would try to
  # write to a file literally named "${sys:kafka.logs.dir}").
  echo "-Dkafka.logs.dir=$LOGS -Dlog4j2.configurationFile=file:$LOG4J_CONFIG -Djava.awt.headless=true"
}

cmd_jars() {
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  command -v java >/dev/null || die "java not found (apt-get install -y openjdk-17-jre-headless)"
  local want have=""
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  [[ -f "$LIBS_STAMP" ]] && have="$(cat "$LIBS_STAMP")"
  if [[ -d "$LIBS" && "$want" == "$have" ]]; then
    return 0
  fi
  log "resolving broker jars from $POM (Maven Central)"
  mkdir -p "$STATE" "$(dirname "$LIBS")"
  # Resolve into a fresh directory and swap it in, so no stale jar (e.g. an old
  # slf4j-api) survives a pom change and a failed resolve leaves the old set intact.
  rm -rf "$LIBS.tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$STATE/mvn.log" 2>&1; then
    tail -n 30 "$STATE/mvn.log" >&2
    die "maven could not resolve $POM (full output in $STATE/mvn.log)"
  fi
  ls "$LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar resolved into $LIBS.tmp"
  echo "$want" >"$LIBS.tmp/.pom.sha256"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  if [[ -n "$(broker_pid)" ]]; then
    log "note: the running broker still uses the old jars; run: $0 stop && $0 start"
  fi
  log "$(ls "$LIBS"/*.jar | wc -l) jars in $LIBS"
}

render_config() {
  mkdir -p "$DATA" "$LOGS"
  # log.dirs must not depend on the working directory of whoever starts the broker.
  sed -e "s#^log\.dirs=.*#log.dirs=$DATA#" -e "s#:9092#:$PORT#g" -e "s#:9093#:$CONTROLLER_PORT#g" \
    "$BASE_CONFIG" >"$CONFIG.tmp"
  if secure; then
    chmod 600 "$CONFIG.tmp"  # it will hold the keystore's password
    sed -i -e "s#^\(listeners=.*\)#\1,SECURE://$HOST:$SECURE_PORT#" \
      -e "s#^\(advertised\.listeners=.*\)#\1,SECURE://$HOST:$SECURE_PORT#" \
      -e "s#^\(listener\.security\.protocol\.map=.*\)#\1,SECURE:SASL_SSL#" "$CONFIG.tmp"
    sed -e "s#@SECURE_DIR@#$SECURE_DIR#g" -e "s#@KEYSTORE_PASSWORD@#$(cat "$SECURE_DIR/keystore-password")#g" \
      "$SECURE_CONFIG" >>"$CONFIG.tmp"
  fi
  mv "$CONFIG.tmp" "$CONFIG"
}

scram_password_mark() {
  sha256sum "$SECURE_DIR/kafka-password" | cut -d' ' -f1
}

format_storage() {
  [[ -f "$DATA/meta.properties" ]] && return 0
  # shellcheck disable=SC2046
  if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
    java -Xmx256m $(java_opts) -cp "$LIBS/*" kafka.tools.StorageTool random-uuid \
      >"$CLUSTER_ID_FILE.tmp" || die "StorageTool random-uuid failed"
    tr -d '[:space:]' <"$CLUSTER_ID_FILE.tmp" >"$CLUSTER_ID_FILE"
    rm -f "$CLUSTER_ID_FILE.tmp"
  fi
  local cluster_id
  cluster_id="$(cat "$CLUSTER_ID_FILE")"
  local users=()
  if secure; then
    # The SCRAM user exists from the first start: no window where the listener refuses it.
    users=(--add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$(cat "$SECURE_DIR/kafka-password")]")
  fi
  log "formatting $DATA (cluster id $cluster_id, standalone controller${users:+, SCRAM user $SCRAM_USER})"
  # shellcheck disable=SC2046
  java -Xmx256m $(java_opts) -cp "$LIBS/*" kafka.tools.StorageTool format \
    --standalone --ignore-formatted -t "$cluster_id" -c "$CONFIG" "${users[@]}" \
    >>"$LOGS/storage-format.log" 2>&1 \
    || { tail -n 20 "$LOGS/storage-format.log" >&2; die "StorageTool format failed"; }
  if secure; then
    scram_password_mark >"$SCRAM_MARK"
  fi
}

# Storage formatted before SECURE=1 (or a new password in .local/secure/): add or update the
# SCRAM user over the plaintext listener, once per password.
ensure_scram_user() {
  [[ -f "$SCRAM_MARK" && "$(cat "$SCRAM_MARK")" == "$(scram_password_mark)" ]] && return 0
  log "setting the SCRAM-SHA-512 password of user $SCRAM_USER"
  # shellcheck disable=SC2046
  java -Xmx256m $(java_opts) -cp "$LIBS/*" kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" \
    --alter --entity-type users --entity-name "$SCRAM_USER" \
    --add-config "SCRAM-SHA-512=[password=$(cat "$SECURE_DIR/kafka-password")]" \
    >>"$LOGS/scram-user.log" 2>&1 \
    || { tail -n 20 "$LOGS/scram-user.log" >&2; die "could not set the SCRAM user (see $LOGS/scram-user.log)"; }
  scram_password_mark >"$SCRAM_MARK"
}

# A real metadata request: the broker must list itself, not only accept TCP.
metadata_ok() {
  local py=""
  for candidate in "$ROOT/.venv/bin/python" python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import confluent_kafka' 2>/dev/null; then
      py="$candidate"
      break
    fi
  done
  if [[ -z "$py" ]]; then
    # Fresh clone before `make install`: no client library yet. The broker logs
    # this line only after it registered and unfenced itself.
    port_open && grep -q "Kafka Server started" "$LOGS/server.log" 2>/dev/null
    return
  fi
  timeout 15 "$py" - "$BOOTSTRAP" <<'PY' 2>/dev/null
import sys
from confluent_kafka.admin import AdminClient

admin = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 0, "socket.timeout.ms": 5000})
metadata = admin.list_topics(timeout=8)
sys.exit(0 if metadata.brokers else 1)
PY
}

fail_start() {
  echo "kafka: error: $1" >&2
  echo "---- last 40 lines of $LOGS/server.log ----" >&2
  tail -n 40 "$LOGS/server.log" >&2 2>/dev/null || true
  if [[ -s "$LOGS/stdout.log" ]]; then
    echo "---- last 20 lines of $LOGS/stdout.log ----" >&2
    tail -n 20 "$LOGS/stdout.log" >&2
  fi
  exit 1
}

cmd_start() {
  if secure; then
    "$ROOT/scripts/secure.sh"
  fi
  if port_open; then
    if ! secure || port_open "$SECURE_PORT"; then
      log "already answering on $BOOTSTRAP"
      secure && ensure_scram_user
      return 0
    fi
    [[ -n "$(broker_pid)" ]] || die "$BOOTSTRAP answers but is not the broker started from $ROOT; cannot add the SASL_SSL listener to it"
    log "restarting to add the SASL_SSL listener on $HOST:$SECURE_PORT"
    cmd_stop
  fi
  local stale
  stale="$(broker_pid)"
  if [[ -n "$stale" ]]; then
    # Started but not (yet) listening: a previous start still booting or hung.
    log "broker process $stale exists but $BOOTSTRAP does not answer; waiting for it"
  else
    cmd_jars
    render_config
    format_storage
    log "starting Apache Kafka (KRaft) on $BOOTSTRAP, logs in $LOGS/server.log"
    # shellcheck disable=SC2046,SC2086
    nohup java -server $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 $(java_opts) \
      -cp "$LIBS/*" kafka.Kafka "$CONFIG" >"$LOGS/stdout.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local pid deadline
  pid="$(broker_pid)"
  deadline=$((SECONDS + READY_TIMEOUT))
  until port_open && metadata_ok && { ! secure || port_open "$SECURE_PORT"; }; do
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      fail_start "the broker exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      fail_start "not ready on $BOOTSTRAP after ${READY_TIMEOUT}s (pid $pid still running; stop it with: $0 stop)"
    fi
    sleep 1
  done
  if secure; then
    ensure_scram_user
    log "ready on $BOOTSTRAP and SASL_SSL $HOST:$SECURE_PORT (pid $pid)"
  else
    log "ready on $BOOTSTRAP (pid $pid)"
  fi
}

cmd_stop() {
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    if port_open; then
      log "$BOOTSTRAP answers but is not the broker started from $ROOT; leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping pid $pid (SIGTERM, controlled shutdown)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  pid="$(broker_pid)"
  if port_open && metadata_ok; then
    log "running on $BOOTSTRAP${pid:+ (pid $pid)}"
    return 0
  fi
  if [[ -n "$pid" ]]; then
    log "process $pid exists but $BOOTSTRAP does not answer metadata requests"
  else
    log "not running"
  fi
  return 3
}

case "${1:-}" in
  jars) cmd_jars ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {start|stop|status|jars}" >&2
    exit 2
    ;;
esac
