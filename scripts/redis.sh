#!/usr/bin/env bash
# Local Redis for development, tests and CI: Debian's redis-server on 127.0.0.1:6379.
#
#   scripts/redis.sh start    install redis-server if missing, start it daemonized, wait for PING
#   scripts/redis.sh stop     SHUTDOWN NOSAVE (only the server this script started)
#   scripts/redis.sh status   exit 0 when 127.0.0.1:6379 answers PING
#
# SECURE=1 also opens a TLS port on 127.0.0.1:$REDIS_TLS_PORT (default 6380; certificate from
# scripts/secure.sh, no client certificate asked) and sets the ACL user `scorestream` with the
# password in .local/secure/. Both are applied to the running server (CONFIG SET, ACL SETUSER),
# so its data survives. The plaintext port and its password-less default user stay as they are.
#
# Not via systemd (containers and CI runners have none): our own config, pid file,
# log and working directory under the git-ignored .local/redis/. No persistence:
# scorecards are rebuilt from Kafka. Every command is idempotent.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST=127.0.0.1
PORT="${REDIS_PORT:-6379}"  # another port lets a second checkout run its own
SECURE="${SECURE:-}"
TLS_PORT="${REDIS_TLS_PORT:-6380}"
SECURE_DIR="$ROOT/.local/secure"
ACL_USER=scorestream
STATE="${REDIS_STATE:-$ROOT/.local/redis}"
CONFIG="$STATE/redis.conf"
PID_FILE="$STATE/redis.pid"
LOG_FILE="$STATE/redis.log"
READY_TIMEOUT="${REDIS_READY_TIMEOUT:-30}"
STOP_TIMEOUT="${REDIS_STOP_TIMEOUT:-30}"

log() { echo "redis: $*" >&2; }
die() { echo "redis: error: $*" >&2; exit 1; }

ping_ok() {
  command -v redis-cli >/dev/null || return 1
  [[ "$(timeout 3 redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" == "PONG" ]]
}

# The pid of the redis-server this script started, empty when it is not running.
our_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid
  pid="$(cat "$PID_FILE")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server* ]]; then
    echo "$pid"
  fi
}

ensure_installed() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  local sudo=""
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null || die "redis-server is missing and we are not root (apt-get install redis-server)"
    sudo="sudo"
  fi
  log "redis-server not found; installing Debian's package (apt-get)"
  # RUNLEVEL=1: invoke-rc.d does not start the packaged service on a sysvinit or
  # container system; we start our own instance below.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends \
    redis-server >/dev/null
  command -v redis-server >/dev/null || die "apt-get did not install redis-server"
}

write_config() {
  mkdir -p "$STATE"
  cat >"$CONFIG.tmp" <<EOF
# Written by scripts/redis.sh; edit the script, not this file.
bind $HOST
port $PORT
protected-mode yes
daemonize yes
supervised no
pidfile $PID_FILE
logfile $LOG_FILE
loglevel notice
dir $STATE
save ""
appendonly no
databases 16
EOF
  mv "$CONFIG.tmp" "$CONFIG"
}

# Commands go through stdin, so the password is never on a command line.
cli() {
  timeout 10 redis-cli -h "$HOST" -p "$PORT"
}

secure_on() {
  "$ROOT/scripts/secure.sh"
  local reply
  reply="$(printf 'CONFIG SET tls-cert-file %s tls-key-file %s tls-ca-cert-file %s tls-auth-clients no tls-port %s\nACL SETUSER %s reset on >%s ~* &* +@all\n' \
    "$SECURE_DIR/server.pem" "$SECURE_DIR/server.key" "$SECURE_DIR/ca.pem" "$TLS_PORT" \
    "$ACL_USER" "$(cat "$SECURE_DIR/redis-password")" | cli)"
  [[ "$reply" == $'OK\nOK' ]] || die "could not open the TLS port or set the ACL user: $reply"
  log "TLS on $HOST:$TLS_PORT, ACL user $ACL_USER"
}

cmd_start() {
  if ping_ok; then
    log "already answering PING on $HOST:$PORT"
    [[ "$SECURE" == 1 ]] && secure_on
    return 0
  fi
  ensure_installed
  write_config
  log "starting $(redis-server --version | cut -d' ' -f1-3) on $HOST:$PORT, log in $LOG_FILE"
  redis-server "$CONFIG" || { tail -n 20 "$LOG_FILE" >&2 2>/dev/null; die "redis-server did not start"; }
  local deadline=$((SECONDS + READY_TIMEOUT))
  until ping_ok; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
      die "no PONG from $HOST:$PORT after ${READY_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "ready on $HOST:$PORT (pid $(our_pid))"
  [[ "$SECURE" == 1 ]] && secure_on
  return 0
}

cmd_stop() {
  local pid
  pid="$(our_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PID_FILE"
    if ping_ok; then
      log "$HOST:$PORT answers but is not the server started from $ROOT; leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping pid $pid (SHUTDOWN NOSAVE)"
  timeout 10 redis-cli -h "$HOST" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  if ping_ok; then
    local pid
    pid="$(our_pid)"
    log "running on $HOST:$PORT${pid:+ (pid $pid)}"
    return 0
  fi
  log "not running"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
    ;;
esac
