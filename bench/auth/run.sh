#!/usr/bin/env bash
# Identity benchmark of issue 3, on SQLite and PostgreSQL in the same run:
#
#   capabilities rps   wrk, 64 connections, GET /api/v1/tenants/capabilities
#                      with a Bearer token, as a ratio to /api/health  [>= 0.5 on SQLite]
#   login p50/p99      wrk, 8 connections, POST /api/v1/auth/login (Argon2id
#                      m=19 MiB,t=2,p=1 dominates)
#   login burst RSS    peak resident memory (VmHWM) of a fresh casino serve
#                      while 200 connections log in at once     [< 1 GiB]
#
#   bash bench/auth/run.sh [DURATION=10s] [BURST_CONNS=200]
#
# Env: BENCH_ENGINES  "sqlite postgres" (default both)
#      BENCH_PG_URL   admin URL of a PostgreSQL server (default: the test
#                     server of scripts/ci/postgres.sh)
#      BENCH_OUT      also write the markdown table to this file
# Not a test: it measures and prints, it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
DUR="${1:-10s}"
BURST="${2:-200}"
ENGINES="${BENCH_ENGINES:-sqlite postgres}"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
OUT="$(mktemp -d /tmp/casino-bench-auth-XXXXXX)"
PIDS=()
PGDBS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for d in "${PGDBS[@]}"; do psql -X -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
	rm -rf "$OUT"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

PASS=bench-owner-password-not-secret
go build -o "$OUT/casino" ./cmd/casino
cat >"$OUT/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"admin@casino.com","password":"$PASS"}'
LUA

PORT=18280
# start ENGINE_URL: runs casino serve on a new port, sets SERVE_PID and BASE
start() {
	PORT=$((PORT + 1))
	(cd "$OUT" && exec env DATABASE_URL="$1" CASINO_OWNER_PASSWORD="$PASS" CASINO_LOG_LEVEL=warn \
		./casino serve --role backend --addr 127.0.0.1:$PORT >>"$OUT/serve.log" 2>>"$OUT/serve.err") &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	BASE=http://127.0.0.1:$PORT
	for _ in $(seq 300); do curl -fsS -o /dev/null "$BASE/api/ready" 2>/dev/null && return; sleep 0.1; done
	echo "casino serve did not become ready; see $OUT/serve.err" >&2
	cat "$OUT/serve.err" >&2
	exit 1
}
stop() { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
# pct FILE 50%|99%: latency percentile in ms from wrk --latency output
pct() { awk -v p="$2" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.1f", v}' "$1"; }
hwm_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

dburl() {
	case "$1" in
	sqlite) echo "sqlite:$OUT/bench-$RANDOM.db" ;;
	postgres)
		local name="bench_auth_$RANDOM"
		psql -X -q "$PG_ADMIN" -c "CREATE DATABASE $name" >/dev/null
		echo "$PG_ADMIN" | sed -E "s#/[^/?]*(\?|$)#/$name\1#"
		;;
	esac
}

if [[ " $ENGINES " == *" postgres "* ]]; then
	PG_ADMIN="${BENCH_PG_URL:-$(bash "$ROOT/scripts/ci/postgres.sh" url)}"
fi
TABLE="| engine | capabilities rps | health rps | ratio | login p50 ms | login p99 ms | login rps | burst conns | peak RSS MiB (idle) |
|---|---|---|---|---|---|---|---|---|"
for engine in $ENGINES; do
	url=$(dburl "$engine")
	[ "$engine" != postgres ] || PGDBS+=("$(echo "$url" | sed -E 's#.*/([^/?]*)(\?.*)?$#\1#')")
	log "$engine: throughput and login latency"
	start "$url"
	tok=$(curl -fsS -X POST "$BASE/api/v1/auth/login" -H "Content-Type: application/json" \
		-d "{\"email\":\"admin@casino.com\",\"password\":\"$PASS\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
	wrk -t2 -c64 -d"$DUR" "$BASE/api/health" >"$OUT/health.txt"
	wrk -t2 -c64 -d"$DUR" -H "Authorization: Bearer $tok" "$BASE/api/v1/tenants/capabilities" >"$OUT/caps.txt"
	if grep -q "Non-2xx" "$OUT/caps.txt"; then log "WARNING: non-2xx answers to capabilities"; grep "Non-2xx" "$OUT/caps.txt" >&2; fi
	wrk -t2 -c8 -d"$DUR" --latency -s "$OUT/login.lua" "$BASE/api/v1/auth/login" >"$OUT/login.txt"
	if grep -q "Non-2xx" "$OUT/login.txt"; then log "WARNING: non-2xx answers to login"; grep "Non-2xx" "$OUT/login.txt" >&2; fi
	stop

	log "$engine: ${BURST}-connection login burst on a fresh process"
	start "$url"
	idle=$(rss_mib "$SERVE_PID")
	wrk -t2 -c"$BURST" -d"$DUR" --timeout 30s -s "$OUT/login.lua" "$BASE/api/v1/auth/login" >"$OUT/burst.txt"
	peak=$(hwm_mib "$SERVE_PID")
	stop

	h=$(rps "$OUT/health.txt"); c=$(rps "$OUT/caps.txt")
	ratio=$(awk -v a="$c" -v b="$h" 'BEGIN {printf "%.2f", a/b}')
	TABLE+="
| $engine | $c | $h | $ratio | $(pct "$OUT/login.txt" 50%) | $(pct "$OUT/login.txt" 99%) | $(rps "$OUT/login.txt") | $BURST | $peak ($idle) |"
done
echo "$TABLE"
echo
echo "wrk -t2; capabilities/health at 64 connections, login at 8, burst at $BURST; $DUR each; $(nproc) CPUs; Argon2id m=19456 KiB,t=2,p=1, hashes bounded to the CPU count."
[ -z "${BENCH_OUT:-}" ] || echo "$TABLE" >"$BENCH_OUT"
