#!/usr/bin/env bash
# Benchmark of issue 7: the log analysis of `casino dr validate` (run here as
# `casino dr logs`, the same code: dr.AnalyzeLogs) over ~SIZE_MB of request
# logs, against jq computing the same p95 of duration_ms and 5xx count per
# minute in the same run. Prints MB/s of both and the jq/casino time ratio,
# and checks that both agree on p95, requests and 5xx.
#
#   bash bench/dr/run.sh [SIZE_MB=1024] [RUNS=3]
#
# jq streams (one pass, no -s: slurping 1 GB would need tens of GB of RAM);
# its p95 needs a sort, done by sort(1), so the jq side is the pipeline
# jq | sort | awk, timed as a whole, and jq alone is reported too.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB="${1:-1024}"
RUNS="${2:-3}"
command -v jq >/dev/null || { echo "jq missing: apt-get install jq" >&2; exit 1; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

go build -o "$OUT/casino" ./cmd/casino
go run ./bench/dr/gen -mb "$SIZE_MB" -o "$OUT/requests.log"
BYTES=$(stat -c %s "$OUT/requests.log")
MB=$(awk -v b="$BYTES" 'BEGIN {printf "%.1f", b/1e6}')
# warm the page cache so both read from memory
cat "$OUT/requests.log" >/dev/null

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

casino_times=() ; jq_times=() ; jqonly_times=()
for r in $(seq "$RUNS"); do
	t0=$(now)
	"$OUT/casino" dr logs --json "$OUT/requests.log" >"$OUT/casino.json"
	t1=$(now)
	casino_times+=("$(echo "$t1 - $t0" | bc -l)")

	t0=$(now)
	jq -r 'select(.event=="request") | "\(.ts[0:16]) \(if .status_code>=500 then 1 else 0 end) \(.duration_ms)"' "$OUT/requests.log" >"$OUT/jq.tsv"
	t1=$(now)
	# p95 as docs/ops/log_schema.md's jq: sorted[floor(n*0.95)] (0-based)
	sort -g -k3,3 -S 50% "$OUT/jq.tsv" | awk '{d[NR-1]=$3; e+=$2} END {printf "%d %d %s\n", NR, e, d[int(NR*0.95)]}' >"$OUT/jq.p95"
	awk '{t[$1]++; e[$1]+=$2} END {for (m in t) printf "%s %d/%d\n", m, e[m], t[m]}' "$OUT/jq.tsv" | sort >"$OUT/jq.minutes"
	t2=$(now)
	jqonly_times+=("$(echo "$t1 - $t0" | bc -l)")
	jq_times+=("$(echo "$t2 - $t0" | bc -l)")
done

c=$(printf '%s\n' "${casino_times[@]}" | median)
j=$(printf '%s\n' "${jq_times[@]}" | median)
jo=$(printf '%s\n' "${jqonly_times[@]}" | median)

# agreement
read -r jn je jp <"$OUT/jq.p95"
cn=$(jq '.stats.requests' "$OUT/casino.json")
ce=$(jq '.stats.errors_5xx' "$OUT/casino.json")
cp=$(jq '.stats.p95_ms' "$OUT/casino.json")
cm=$(jq '.stats.minutes | length' "$OUT/casino.json")
jm=$(wc -l <"$OUT/jq.minutes")
jq -r '.stats.minutes[] | "\(.minute[0:16]) \(.errors_5xx)/\(.total)"' "$OUT/casino.json" | sort >"$OUT/casino.minutes"
agree=yes
cmp -s "$OUT/casino.minutes" "$OUT/jq.minutes" && [ "$cn" = "$jn" ] && [ "$ce" = "$je" ] && [ "$cm" = "$jm" ] && awk -v a="$cp" -v b="$jp" 'BEGIN {exit !(a-b < 0.0005 && b-a < 0.0005)}' || agree=NO

echo
echo "| input | tool | median of $RUNS (s) | MB/s |"
echo "|---|---|---|---|"
printf '| %s MB, %s requests | casino dr logs (validate'"'"'s analysis) | %.2f | %.0f |\n' "$MB" "$cn" "$c" "$(echo "$MB / $c" | bc -l)"
printf '| | jq -r (extraction only) | %.2f | %.0f |\n' "$jo" "$(echo "$MB / $jo" | bc -l)"
printf '| | jq + sort + awk (same p95 and 5xx/min) | %.2f | %.0f |\n' "$j" "$(echo "$MB / $j" | bc -l)"
echo
printf 'ratio jq pipeline / casino: %.1fx; jq extraction alone / casino: %.1fx\n' "$(echo "$j / $c" | bc -l)" "$(echo "$jo / $c" | bc -l)"
echo "results agree (requests $cn, 5xx $ce, p95 $cp ms, 5xx/total of each of $cm minutes): $agree"
[ "$agree" = yes ]
