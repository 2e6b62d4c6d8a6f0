#!/usr/bin/env bash
# Starts the throwaway PostgreSQL server the tests use, on 127.0.0.1 at a
# non-default port, with a data directory under /tmp and no system service.
# Idempotent: installs Debian's postgresql only when missing, reuses a running
# server. Prints the admin URL on stdout (everything else goes to stderr).
#
#   scripts/ci/postgres.sh [url|stop]
set -euo pipefail

PORT="${CASINO_TEST_PG_PORT:-55432}"
DIR="${CASINO_TEST_PG_DIR:-/tmp/casino-test-pg}"
URL="postgres://postgres@127.0.0.1:${PORT}/postgres?sslmode=disable"

log() { echo "postgres.sh: $*" >&2; }

bindir() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
	[ "$(id -u)" = 0 ] || { log "PostgreSQL is not installed and I am not root: apt-get install postgresql"; exit 1; }
	log "installing Debian's postgresql (no service started)"
	# policy-rc.d stops the package from starting its own cluster.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq postgresql postgresql-client >&2
	rm -f /usr/sbin/policy-rc.d
fi
BIN="$(bindir)"

if [ "${1:-url}" = stop ]; then
	as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
	exit 0
fi

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
	echo "$URL"
	exit 0
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
	rm -rf "$DIR"
	mkdir -p "$DIR"
	[ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
	log "initdb $DIR/data"
	as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres --no-sync -E UTF8 >&2
fi
rm -f "$DIR/data/postmaster.pid"
log "starting on 127.0.0.1:$PORT"
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
	-o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=400" start >&2
echo "$URL"
