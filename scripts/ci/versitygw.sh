#!/usr/bin/env bash
# Starts the throwaway S3 server the tests use: versitygw (the Versity S3
# gateway, Apache-2.0) with its posix backend, bucket versioning and Object
# Lock, on 127.0.0.1 — plain HTTP on one port and TLS with a self-signed
# certificate on the next. Idempotent: the binary is built once with
# `go install` into a cache folder and never rebuilt while it is there; a
# running server is reused. Prints what was asked for on stdout (everything
# else goes to stderr):
#
#   scripts/ci/versitygw.sh [url]   http://ACCESS:SECRET@127.0.0.1:PORT
#   scripts/ci/versitygw.sh tls     https://ACCESS:SECRET@127.0.0.1:PORT+1
#   scripts/ci/versitygw.sh ca      the TLS certificate (PEM) to trust
#   scripts/ci/versitygw.sh stop
#
# Settings: CASINO_TOOLS_DIR (binary cache, default ~/.cache/casino-tools),
# CASINO_TEST_S3_PORT (default 59000; TLS on PORT+1), CASINO_TEST_S3_DIR
# (default /tmp/casino-test-s3).
set -euo pipefail

VERSION=v1.8.0
TOOLS="${CASINO_TOOLS_DIR:-${HOME:-/root}/.cache/casino-tools}"
BIN="$TOOLS/versitygw"
PORT="${CASINO_TEST_S3_PORT:-59000}"
TLS_PORT=$((PORT + 1))
DIR="${CASINO_TEST_S3_DIR:-/tmp/casino-test-s3}"
# Test-only credentials of a server that listens on loopback alone.
ACCESS=casinotest
SECRET=casinotestsecret0123456789

log() { echo "versitygw.sh: $*" >&2; }

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_up PORT: poll until the port accepts a connection (30 s at most).
wait_up() {
	local deadline=$((SECONDS + 30))
	until up "$1"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "no server on 127.0.0.1:$1 after 30s; see $DIR/*.log"
			tail -n 20 "$DIR"/*.log >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

cmd="${1:-url}"
case "$cmd" in
url | tls | ca | stop) ;;
*) log "unknown command $cmd: want url, tls, ca or stop"; exit 2 ;;
esac

if [ "$cmd" = stop ]; then
	for p in "$DIR"/plain.pid "$DIR"/tls.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
		rm -f "$p"
	done
	exit 0
fi

if [ ! -x "$BIN" ]; then
	command -v go >/dev/null || { log "go is needed to build versitygw $VERSION"; exit 1; }
	log "building versitygw $VERSION into $TOOLS (once)"
	mkdir -p "$TOOLS"
	GOBIN="$TOOLS" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
fi

mkdir -p "$DIR/root" "$DIR/versions" "$DIR/tls"
CERT="$DIR/tls/cert.pem"
KEY="$DIR/tls/key.pem"
if [ ! -s "$CERT" ] || [ ! -s "$KEY" ]; then
	log "self-signed certificate for 127.0.0.1/localhost"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=casino-test-s3" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$KEY.tmp" -out "$CERT.tmp" 2>/dev/null
	mv "$KEY.tmp" "$KEY"
	mv "$CERT.tmp" "$CERT"
fi

# start NAME PORT [EXTRA GLOBAL FLAGS...]: one gateway process, detached, over
# the same root and versioning folders.
start() {
	local name="$1" port="$2"
	shift 2
	up "$port" && return 0
	log "starting $name on 127.0.0.1:$port"
	ROOT_ACCESS_KEY="$ACCESS" ROOT_SECRET_KEY="$SECRET" setsid "$BIN" \
		--port "127.0.0.1:$port" --quiet "$@" \
		posix --versioning-dir "$DIR/versions" "$DIR/root" \
		</dev/null >"$DIR/$name.log" 2>&1 &
	echo $! >"$DIR/$name.pid"
}

case "$cmd" in
url)
	start plain "$PORT"
	wait_up "$PORT"
	echo "http://$ACCESS:$SECRET@127.0.0.1:$PORT"
	;;
tls)
	start tls "$TLS_PORT" --cert "$CERT" --key "$KEY"
	wait_up "$TLS_PORT"
	echo "https://$ACCESS:$SECRET@127.0.0.1:$TLS_PORT"
	;;
ca)
	echo "$CERT"
	;;
esac
