#!/usr/bin/env bash
# Remote backup benchmark (issue 11): upload throughput to versitygw on
# loopback, casino against a peer S3 client, in the same run, on the same
# data:
#
#   casino backup create --remote-only            (dump + compress + stream up)
#   vs casino backup create  +  aws s3 cp FILE    (local backup, then upload)
#
# target: the first takes at most 1.1x the second. Not a test: it measures.
#
# Usage:  bench/remote/run.sh [SIZE_MB]      (default 256; SQLite source)
#
# Env: BENCH_DIR  work folder (default a fresh mktemp -d; removed at exit)
#      BENCH_OUT  also write the markdown result line to this file
set -euo pipefail

SIZE_MB="${1:-256}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${BENCH_DIR:-$(mktemp -d /tmp/casino-bench-remote-XXXXXX)}"
mkdir -p "$WORK"
cd "$WORK"

log() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
timeit() {
	local var=$1 t0 t1
	shift
	sync
	t0=$(now)
	bash -c "$1" >/dev/null
	t1=$(now)
	printf -v "$var" '%.2f' "$(echo "$t1 - $t0" | bc -l)"
	log "$var = ${!var}s  ($1)"
}

command -v aws >/dev/null || { log "the peer, aws (aws-cli), is missing"; exit 1; }
log "building casino"
(cd "$ROOT" && go build -o "$WORK/casino" ./cmd/casino)
CASINO="$WORK/casino"

URL="$(bash "$ROOT/scripts/ci/versitygw.sh" url)"
CREDS="${URL#http://}"
CREDS="${CREDS%@*}"
ENDPOINT="http://${URL##*@}"
export AWS_ACCESS_KEY_ID="${CREDS%%:*}" AWS_SECRET_ACCESS_KEY="${CREDS#*:}" AWS_DEFAULT_REGION=us-east-1
# This machine's AWS_CA_BUNDLE must not reach aws-cli (the endpoint is http).
unset AWS_CA_BUNDLE AWS_SESSION_TOKEN
BUCKET="casino-bench-$$"
aws --endpoint-url "$ENDPOINT" s3api create-bucket --bucket "$BUCKET" --object-lock-enabled-for-bucket >/dev/null
cleanup() {
	aws --endpoint-url "$ENDPOINT" s3 rb --force "s3://$BUCKET" >/dev/null 2>&1 || true
	[ -n "${BENCH_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

openssl genpkey -algorithm ed25519 -out "$WORK/sign.key" 2>/dev/null
export DATABASE_URL="sqlite:$WORK/data/casino.db"
export CASINO_DATA_DIR="$WORK/data" CASINO_BACKUP_DIR="$WORK/backups"
export CASINO_BACKUP_REMOTE="s3://$BUCKET/bench" CASINO_S3_ENDPOINT="$ENDPOINT" CASINO_S3_INSECURE=1
export CASINO_BACKUP_SIGNING_KEY="$WORK/sign.key"

log "seeding SQLite (~${SIZE_MB} MiB)"
"$CASINO" migrate up >/dev/null
"$CASINO" dev seed --size-mb "$SIZE_MB" >/dev/null

# Warm the page cache and the gateway once, then alternate the pair.
"$CASINO" backup create --remote-only --allow-plaintext-remote >/dev/null 2>&1
sleep 1
best_remote=999999 best_peer=999999
for i in 1 2; do
	sleep 1
	timeit t_remote "'$CASINO' backup create --remote-only --allow-plaintext-remote 2>/dev/null"
	rm -rf "$WORK/backups"
	timeit t_peer "'$CASINO' backup create 2>/dev/null && aws --endpoint-url '$ENDPOINT' s3 cp --only-show-errors \"\$(ls '$WORK'/backups/casino_db_*.sqlite.gz | tail -n1)\" 's3://$BUCKET/peer/run$i.sqlite.gz'"
	rm -rf "$WORK/backups"
	best_remote=$(echo "if ($t_remote < $best_remote) $t_remote else $best_remote" | bc -l)
	best_peer=$(echo "if ($t_peer < $best_peer) $t_peer else $best_peer" | bc -l)
done
SIZE=$(aws --endpoint-url "$ENDPOINT" s3 ls "s3://$BUCKET/peer/run1.sqlite.gz" | awk '{print $3}')
R=$(echo "scale=2; $best_remote / $best_peer" | bc -l)
line="| SQLite ${SIZE_MB} MiB seed, $(numfmt --to=iec "$SIZE") compressed | backup create --remote-only ${best_remote}s | backup create + aws s3 cp ${best_peer}s | ${R}x [<= 1.1x] |"
echo "$line"
[ -z "${BENCH_OUT:-}" ] || echo "$line" >>"$BENCH_OUT"
