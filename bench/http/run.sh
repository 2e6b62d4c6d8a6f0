#!/usr/bin/env bash
# HTTP benchmark of issue 2: /api/health and /api/version requests per second
# with wrk (2 threads, 64 connections) against casino serve (SQLite, request
# logging on, to a file) and, in the same run, against a bare net/http
# handler returning the same bytes. Prints a markdown table with medians of
# RUNS runs and the casino/bare ratio.
#
#   bash bench/http/run.sh [DURATION=10s] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-10s}"
RUNS="${2:-3}"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
OUT="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

go build -o "$OUT/casino" ./cmd/casino
go build -o "$OUT/bare" ./bench/http/bare
(cd "$OUT" && CASINO_OWNER_PASSWORD=bench-password-not-secret-123 exec ./casino serve --addr 127.0.0.1:18180 ${CASINO_BENCH_SERVE_ARGS:-} >"$OUT/casino.log" 2>"$OUT/casino.err") &
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18180/api/ready 2>/dev/null && break; sleep 0.1; done
"$OUT/bare" -addr 127.0.0.1:18181 -from http://127.0.0.1:18180 &
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18181/api/health 2>/dev/null && break; sleep 0.1; done

# one wrk run: prints "rps p99_ms"
measure() {
	wrk -t2 -c64 -d"$DUR" --latency "$1" >"$OUT/wrk.txt"
	rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
	p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$OUT/wrk.txt")
	echo "$rps $p99"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| endpoint | casino rps | bare rps | ratio | casino p99 ms | bare p99 ms |"
echo "|---|---|---|---|---|---|"
for path in /api/health /api/version; do
	: >"$OUT/c" ; : >"$OUT/b"
	for _ in $(seq "$RUNS"); do   # interleaved so drift hits both alike
		measure "http://127.0.0.1:18180$path" >>"$OUT/c"
		measure "http://127.0.0.1:18181$path" >>"$OUT/b"
	done
	crps=$(cut -d' ' -f1 "$OUT/c" | median); brps=$(cut -d' ' -f1 "$OUT/b" | median)
	cp99=$(cut -d' ' -f2 "$OUT/c" | median); bp99=$(cut -d' ' -f2 "$OUT/b" | median)
	ratio=$(awk -v a="$crps" -v b="$brps" 'BEGIN {printf "%.2f", a/b}')
	echo "| $path | $crps | $brps | $ratio | $cp99 | $bp99 |"
done
lines=$(grep -c '"event":"request"' "$OUT/casino.log" || true)
echo
echo "casino wrote $lines request log lines during the run (logging on)."
