#!/usr/bin/env bash
# HTTP benchmark of issue 2: /api/health and /api/version requests per second
# with wrk (2 threads, 64 connections) against casino serve (SQLite, request
# logging on, to a file) and, in the same run, against a bare net/http
# handler returning the same bytes. Prints a markdown table with medians of
# RUNS runs and the casino/bare ratio, and the CPU time each request cost
# the server (from /proc/PID/stat over the run), which a shared machine's
# load moves far less than it moves req/s.
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
CASINO_PID=$!
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18180/api/ready 2>/dev/null && break; sleep 0.1; done
"$OUT/bare" -addr 127.0.0.1:18181 -from http://127.0.0.1:18180 &
BARE_PID=$!
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18181/api/health 2>/dev/null && break; sleep 0.1; done
if [ -n "${BENCH_BASE:-}" ]; then
	git worktree add -q --detach "$OUT/base-src" "$BENCH_BASE"
	(cd "$OUT/base-src" && go build -o "$OUT/casino-base" ./cmd/casino)
	mkdir -p "$OUT/base"
	(cd "$OUT/base" && CASINO_OWNER_PASSWORD=bench-password-not-secret-123 exec ../casino-base serve --addr 127.0.0.1:18182 ${CASINO_BENCH_SERVE_ARGS:-} >"$OUT/base.log" 2>"$OUT/base.err") &
	BASE_PID=$!
	for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18182/api/ready 2>/dev/null && break; sleep 0.1; done
fi

# ticks PID: user+system CPU clock ticks of the process so far
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# one wrk run against URL served by PID: prints "rps p99_ms server_cpu_us_per_request"
measure() {
	local t0
	t0=$(ticks "$2")
	wrk -t2 -c64 -d"$DUR" --latency "$1" >"$OUT/wrk.txt"
	rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
	p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$OUT/wrk.txt")
	cpu=$(awk -v t="$(( $(ticks "$2") - t0 ))" -v hz="$HZ" '/requests in/ {printf "%.1f", t/hz*1e6/$1}' "$OUT/wrk.txt")
	echo "$rps $p99 $cpu"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if [ -n "${BENCH_BASE:-}" ]; then
	echo "| endpoint | casino rps | bare rps | ratio | casino p99 ms | bare p99 ms | server CPU us/req casino / bare | base ($BENCH_BASE) rps | base ratio | base CPU us/req |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
else
	echo "| endpoint | casino rps | bare rps | ratio | casino p99 ms | bare p99 ms | server CPU us/req casino / bare |"
	echo "|---|---|---|---|---|---|---|"
fi
for path in /api/health /api/version; do
	: >"$OUT/c" ; : >"$OUT/b" ; : >"$OUT/o"
	for _ in $(seq "$RUNS"); do   # interleaved so drift hits all alike
		measure "http://127.0.0.1:18180$path" "$CASINO_PID" >>"$OUT/c"
		measure "http://127.0.0.1:18181$path" "$BARE_PID" >>"$OUT/b"
		[ -z "${BENCH_BASE:-}" ] || measure "http://127.0.0.1:18182$path" "$BASE_PID" >>"$OUT/o"
	done
	crps=$(cut -d' ' -f1 "$OUT/c" | median); brps=$(cut -d' ' -f1 "$OUT/b" | median)
	cp99=$(cut -d' ' -f2 "$OUT/c" | median); bp99=$(cut -d' ' -f2 "$OUT/b" | median)
	ccpu=$(cut -d' ' -f3 "$OUT/c" | median); bcpu=$(cut -d' ' -f3 "$OUT/b" | median)
	ratio=$(awk -v a="$crps" -v b="$brps" 'BEGIN {printf "%.2f", a/b}')
	if [ -n "${BENCH_BASE:-}" ]; then
		orps=$(cut -d' ' -f1 "$OUT/o" | median); ocpu=$(cut -d' ' -f3 "$OUT/o" | median)
		oratio=$(awk -v a="$orps" -v b="$brps" 'BEGIN {printf "%.2f", a/b}')
		echo "| $path | $crps | $brps | $ratio | $cp99 | $bp99 | $ccpu / $bcpu | $orps | $oratio | $ocpu |"
	else
		echo "| $path | $crps | $brps | $ratio | $cp99 | $bp99 | $ccpu / $bcpu |"
	fi
	echo "$path runs (rps p99 cpu): casino $(tr '\n' ';' <"$OUT/c") bare $(tr '\n' ';' <"$OUT/b")" >>"$OUT/runs"
done
lines=$(grep -c '"event":"request"' "$OUT/casino.log" || true)
echo
echo "casino wrote $lines request log lines during the run (logging on). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
cat "$OUT/runs"
