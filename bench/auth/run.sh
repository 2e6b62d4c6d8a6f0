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
# Health and capabilities are measured BENCH_RUNS times (default 3),
# interleaved, and the medians compared. Beside req/s the table shows the
# CPU each request cost casino (and PostgreSQL's backends), from
# /proc/PID/stat over the run: a shared machine's load moves req/s far
# more than it moves CPU per request.
#
# Env: BENCH_ENGINES  "sqlite postgres" (default both)
#      BENCH_RUNS     interleaved runs of health and capabilities (default 3)
#      BENCH_BASE     also measure casino built at this git revision, same
#                     database, same runs (its own columns)
#      BENCH_NO_LOGIN 1: skip the login latency and burst measurements
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
RUNS="${BENCH_RUNS:-3}"
go build -o "$OUT/casino" ./cmd/casino
if [ -n "${BENCH_BASE:-}" ]; then
	git worktree add -q --detach "$OUT/base-src" "$BENCH_BASE"
	(cd "$OUT/base-src" && go build -o "$OUT/casino-base" ./cmd/casino)
	git worktree remove --force "$OUT/base-src"
fi
cat >"$OUT/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"admin@casino.com","password":"$PASS"}'
LUA

PORT=18280
# start ENGINE_URL [BINARY]: runs casino serve on a new port, sets SERVE_PID and BASE
start() {
	PORT=$((PORT + 1))
	(cd "$OUT" && exec env DATABASE_URL="$1" CASINO_OWNER_PASSWORD="$PASS" CASINO_LOG_LEVEL=warn \
		"${2:-./casino}" serve --role backend --addr 127.0.0.1:$PORT >>"$OUT/serve.log" 2>>"$OUT/serve.err") &
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

# ticks PID...: "pid ticks" per process, user+system CPU clock ticks so far
ticks() { local p; for p in "$@"; do awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done; }
# delta BEFORE AFTER: ticks spent between two ticks outputs, by the processes in both
delta() { awk 'NR == FNR {b[$1] = $2; next} ($1 in b) {t += $2 - b[$1]} END {print t + 0}' <(echo "$1") <(echo "$2"); }
# pg_pids URL: the PostgreSQL backends connected to the database of URL
pg_pids() { psql -X -At "$1" -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()" 2>/dev/null | tr '\n' ' '; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
HZ=$(getconf CLK_TCK)
# measure URL PID PGPIDS [wrk args...]: one wrk run; prints "rps casino_us_per_req pg_us_per_req"
measure() {
	local url=$1 pid=$2 pgp=$3
	shift 3
	local c0 p0 c1 p1
	c0=$(ticks "$pid"); p0=$(ticks $pgp)
	wrk -t2 -c64 -d"$DUR" "$@" "$url" >"$OUT/wrk.txt"
	if grep -q "Non-2xx" "$OUT/wrk.txt"; then log "WARNING: non-2xx answers from $url"; grep "Non-2xx" "$OUT/wrk.txt" >&2; fi
	local r n
	r=$(rps "$OUT/wrk.txt")
	n=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
	c1=$(ticks "$pid"); p1=$(ticks $pgp)
	awk -v r="$r" -v n="$n" -v c="$(delta "$c0" "$c1")" -v p="$(delta "$p0" "$p1")" -v hz="$HZ" \
		'BEGIN {printf "%s %.1f %.1f\n", r, c/hz*1e6/n, p/hz*1e6/n}'
}

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
TABLE="| engine | build | capabilities rps | health rps | ratio | casino CPU us/req caps (health) | PostgreSQL CPU us/req caps | login p50 ms | login p99 ms | login rps | burst conns | peak RSS MiB (idle) |
|---|---|---|---|---|---|---|---|---|---|---|---|"
for engine in $ENGINES; do
	url=$(dburl "$engine")
	[ "$engine" != postgres ] || PGDBS+=("$(echo "$url" | sed -E 's#.*/([^/?]*)(\?.*)?$#\1#')")
	log "$engine: throughput ($RUNS interleaved runs)"
	start "$url"
	NEW_PID=$SERVE_PID NEW_BASE=$BASE
	builds="new"
	if [ -n "${BENCH_BASE:-}" ]; then
		start "$url" "$OUT/casino-base"
		OLD_PID=$SERVE_PID OLD_BASE=$BASE
		builds="new old"
	fi
	tok=$(curl -fsS -X POST "$NEW_BASE/api/v1/auth/login" -H "Content-Type: application/json" \
		-d "{\"email\":\"admin@casino.com\",\"password\":\"$PASS\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
	for b in $builds; do : >"$OUT/h-$b"; : >"$OUT/c-$b"; done
	for _ in $(seq "$RUNS"); do # interleaved, so drifting load hits every column alike
		for b in $builds; do
			if [ "$b" = new ]; then pid=$NEW_PID base=$NEW_BASE; else pid=$OLD_PID base=$OLD_BASE; fi
			pgp=""
			[ "$engine" != postgres ] || pgp=$(pg_pids "$url")
			measure "$base/api/health" "$pid" "$pgp" >>"$OUT/h-$b"
			measure "$base/api/v1/tenants/capabilities" "$pid" "$pgp" -H "Authorization: Bearer $tok" >>"$OUT/c-$b"
		done
	done
	login_cols="- | - | - | - | -"
	if [ -z "${BENCH_NO_LOGIN:-}" ]; then
		wrk -t2 -c8 -d"$DUR" --latency -s "$OUT/login.lua" "$NEW_BASE/api/v1/auth/login" >"$OUT/login.txt"
		if grep -q "Non-2xx" "$OUT/login.txt"; then log "WARNING: non-2xx answers to login"; grep "Non-2xx" "$OUT/login.txt" >&2; fi
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	PIDS=()

	if [ -z "${BENCH_NO_LOGIN:-}" ]; then
		log "$engine: ${BURST}-connection login burst on a fresh process"
		start "$url"
		idle=$(rss_mib "$SERVE_PID")
		wrk -t2 -c"$BURST" -d"$DUR" --timeout 30s -s "$OUT/login.lua" "$BASE/api/v1/auth/login" >"$OUT/burst.txt"
		peak=$(hwm_mib "$SERVE_PID")
		stop
		login_cols="$(pct "$OUT/login.txt" 50%) | $(pct "$OUT/login.txt" 99%) | $(rps "$OUT/login.txt") | $BURST | $peak ($idle)"
	fi

	for b in $builds; do
		h=$(cut -d' ' -f1 "$OUT/h-$b" | median); c=$(cut -d' ' -f1 "$OUT/c-$b" | median)
		hc=$(cut -d' ' -f2 "$OUT/h-$b" | median); cc=$(cut -d' ' -f2 "$OUT/c-$b" | median); pc=$(cut -d' ' -f3 "$OUT/c-$b" | median)
		ratio=$(awk -v a="$c" -v b="$h" 'BEGIN {printf "%.2f", a/b}')
		name=$b
		[ "$b" = new ] && name="this" || name="base ($BENCH_BASE)"
		[ "$engine" = postgres ] || pc="-"
		TABLE+="
| $engine | $name | $c | $h | $ratio | $cc ($hc) | $pc | $login_cols |"
		login_cols="- | - | - | - | -"
	done
	log "$engine runs (rps casino_us pg_us): health $(tr '\n' ';' <"$OUT/h-new") caps $(tr '\n' ';' <"$OUT/c-new")"
done
echo "$TABLE"
echo
echo "wrk -t2; capabilities/health at 64 connections (medians of $RUNS interleaved runs), login at 8, burst at $BURST; $DUR each; $(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); Argon2id m=19456 KiB,t=2,p=1, hashes bounded to the CPU count."
[ -z "${BENCH_OUT:-}" ] || echo "$TABLE" >"$BENCH_OUT"
