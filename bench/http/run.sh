#!/usr/bin/env bash
# HTTP benchmark of issue 2: /api/health and /api/version requests per second
# with wrk (2 threads, 64 connections) against casino serve (SQLite, request
# logging on, to a file) and, in the same run, against a bare net/http
# handler returning the same bytes. Prints a markdown table with medians of
# RUNS runs and the casino/bare ratio.
#
#   bash bench/http/run.sh [DURATION=10s] [RUNS=3]
#
# BENCH_BASE=REV also builds casino at git revision REV and measures it in
# the same interleaved run (its own columns), so a change is compared with
# what it replaced under the same load.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-10s}"
RUNS="${2:-3}"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
OUT="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; [ -z "${BENCH_BASE:-}" ] || git worktree remove --force "$OUT/base-src" 2>/dev/null; rm -rf "$OUT"' EXIT

go build -o "$OUT/casino" ./cmd/casino
go build -o "$OUT/bare" ./bench/http/bare
(cd "$OUT" && CASINO_OWNER_PASSWORD=bench-password-not-secret-123 exec ./casino serve --addr 127.0.0.1:18180 ${CASINO_BENCH_SERVE_ARGS:-} >"$OUT/casino.log" 2>"$OUT/casino.err") &
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18180/api/ready 2>/dev/null && break; sleep 0.1; done
"$OUT/bare" -addr 127.0.0.1:18181 -from http://127.0.0.1:18180 &
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18181/api/health 2>/dev/null && break; sleep 0.1; done
if [ -n "${BENCH_BASE:-}" ]; then
	git worktree add -q --detach "$OUT/base-src" "$BENCH_BASE"
	(cd "$OUT/base-src" && go build -o "$OUT/casino-base" ./cmd/casino)
	mkdir -p "$OUT/base"
	(cd "$OUT/base" && CASINO_OWNER_PASSWORD=bench-password-not-secret-123 exec ../casino-base serve --addr 127.0.0.1:18182 ${CASINO_BENCH_SERVE_ARGS:-} >"$OUT/base.log" 2>"$OUT/base.err") &
	for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18182/api/ready 2>/dev/null && break; sleep 0.1; done
fi

# one wrk run: prints "rps p99_ms"
measure() {
	wrk -t2 -c64 -d"$DUR" --latency "$1" >"$OUT/wrk.txt"
	rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
	p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$OUT/wrk.txt")
	echo "$rps $p99"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if [ -n "${BENCH_BASE:-}" ]; then
	echo "| endpoint | casino rps | bare rps | ratio | casino p99 ms | bare p99 ms | base ($BENCH_BASE) rps | base ratio |"
	echo "|---|---|---|---|---|---|---|---|"
else
	echo "| endpoint | casino rps | bare rps | ratio | casino p99 ms | bare p99 ms |"
	echo "|---|---|---|---|---|---|"
fi
for path in /api/health /api/version; do
	: >"$OUT/c" ; : >"$OUT/b" ; : >"$OUT/o"
	for _ in $(seq "$RUNS"); do   # interleaved so drift hits all alike
		measure "http://127.0.0.1:18180$path" >>"$OUT/c"
		measure "http://127.0.0.1:18181$path" >>"$OUT/b"
		[ -z "${BENCH_BASE:-}" ] || measure "http://127.0.0.1:18182$path" >>"$OUT/o"
	done
	crps=$(cut -d' ' -f1 "$OUT/c" | median); brps=$(cut -d' ' -f1 "$OUT/b" | median)
	cp99=$(cut -d' ' -f2 "$OUT/c" | median); bp99=$(cut -d' ' -f2 "$OUT/b" | median)
	ratio=$(awk -v a="$crps" -v b="$brps" 'BEGIN {printf "%.2f", a/b}')
	if [ -n "${BENCH_BASE:-}" ]; then
		orps=$(cut -d' ' -f1 "$OUT/o" | median)
		oratio=$(awk -v a="$orps" -v b="$brps" 'BEGIN {printf "%.2f", a/b}')
		echo "| $path | $crps | $brps | $ratio | $cp99 | $bp99 | $orps | $oratio |"
	else
		echo "| $path | $crps | $brps | $ratio | $cp99 | $bp99 |"
	fi
done
lines=$(grep -c '"event":"request"' "$OUT/casino.log" || true)
echo
echo "casino wrote $lines request log lines during the run (logging on)."
