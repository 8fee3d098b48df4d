#!/usr/bin/env bash
# TLS material, users and passwords for the secured local endpoints (`make up SECURE=1`).
#
#   scripts/secure.sh    make .local/secure/ once (CA, server and client certificates, a PKCS12
#                        keystore for Kafka, random passwords), then (re)write .local/secure.env
#
# .local/secure.env holds the SCORESTREAM_* variables that reach the SASL_SSL listener of
# scripts/kafka.sh (SCRAM-SHA-512 and a client certificate, on 127.0.0.1:$KAFKA_SECURE_PORT)
# and the TLS port of
# scripts/redis.sh (ACL user on 127.0.0.1:$REDIS_TLS_PORT): `set -a; . .local/secure.env`.
# Everything is made with openssl on this machine; nothing leaves .local/, which git ignores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.local/secure"
ENV_FILE="${SECURE_ENV_FILE:-$ROOT/.local/secure.env}"  # make test writes its own
HOST=127.0.0.1
KAFKA_SECURE_PORT="${KAFKA_SECURE_PORT:-9094}"
REDIS_TLS_PORT="${REDIS_TLS_PORT:-6380}"
USER_NAME=scorestream

log() { echo "secure: $*" >&2; }
die() { echo "secure: error: $*" >&2; exit 1; }

# A certificate for $1 (file stem) signed by our CA, with the extensions in $2.
signed_cert() {
  openssl req -new -newkey rsa:2048 -nodes -keyout "$DIR/$1.key" -out "$DIR/$1.csr" \
    -subj "/CN=$3" 2>/dev/null
  openssl x509 -req -in "$DIR/$1.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
    -days 825 -sha256 -out "$DIR/$1.pem" -extfile <(printf '%b' "$2") 2>/dev/null
  rm -f "$DIR/$1.csr"
}

make_material() {
  [[ -s "$DIR/server.p12" && -s "$DIR/client.pem" && -s "$DIR/redis-password" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (apt-get install -y openssl)"
  log "making a local CA, server and client certificates and passwords in $DIR"
  rm -rf "$DIR.tmp"
  mkdir -p "$DIR.tmp"
  (
    DIR="$DIR.tmp"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/ca.key" -out "$DIR/ca.pem" \
      -days 3650 -sha256 -subj "/CN=Scorestream local CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      2>/dev/null
    # Clients check the name they dialled: the server certificate names the loopback address.
    signed_cert server "subjectAltName=IP:$HOST,DNS:localhost\nextendedKeyUsage=serverAuth\n" localhost
    signed_cert client "extendedKeyUsage=clientAuth\n" "$USER_NAME"
    # Hex: safe inside JAAS, ACL rules, URLs and env files without quoting.
    for name in keystore-password kafka-password redis-password; do
      openssl rand -hex 24 >"$DIR/$name"
    done
    openssl pkcs12 -export -in "$DIR/server.pem" -inkey "$DIR/server.key" -certfile "$DIR/ca.pem" \
      -name kafka -out "$DIR/server.p12" -passout "file:$DIR/keystore-password"
    # redis-server runs as whoever runs this script; the keys stay readable by that user only.
    chmod 644 "$DIR/ca.pem" "$DIR/server.pem" "$DIR/client.pem"
  )
  rm -rf "$DIR"
  mv "$DIR.tmp" "$DIR"
}

write_env() {
  umask 077
  cat >"$ENV_FILE.tmp" <<EOF
# Written by scripts/secure.sh for the secured local endpoints of \`make up SECURE=1\`.
# Load with: set -a; . .local/secure.env; set +a
SCORESTREAM_KAFKA_BOOTSTRAP=$HOST:$KAFKA_SECURE_PORT
SCORESTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL
SCORESTREAM_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
SCORESTREAM_KAFKA_USERNAME=$USER_NAME
SCORESTREAM_KAFKA_PASSWORD=$(cat "$DIR/kafka-password")
SCORESTREAM_KAFKA_CA_FILE=$DIR/ca.pem
SCORESTREAM_KAFKA_CERT_FILE=$DIR/client.pem
SCORESTREAM_KAFKA_KEY_FILE=$DIR/client.key
SCORESTREAM_REDIS_URL=rediss://$HOST:$REDIS_TLS_PORT/0
SCORESTREAM_REDIS_USERNAME=$USER_NAME
SCORESTREAM_REDIS_PASSWORD=$(cat "$DIR/redis-password")
SCORESTREAM_REDIS_CA_FILE=$DIR/ca.pem
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

make_material
write_env
